package main

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/pgmoat/pgmoat/cmd/pgmoat/config"
	"github.com/pgmoat/pgmoat/integration/shop"
	"github.com/pgmoat/pgmoat/introspect"
	"github.com/pgmoat/pgmoat/mcp"
	"github.com/pgmoat/pgmoat/policy"
)

// kindsSchema holds every kind of relation the policy judges by kind: a
// table with row-level security and an inheritance child of it (no
// policies of its own), a partitioned table with row-level security and
// its partitions, a sequence, a materialized view a DBA built over a
// partition, a foreign table, and a table in a schema a narrow profile
// may not read. Rows belong to managers 1, 2 and 3.
const kindsSchema = `
CREATE TABLE rk_notes (id int PRIMARY KEY, manager_id int NOT NULL, body text);
COMMENT ON TABLE rk_notes IS 'Notes of account managers.';
ALTER TABLE rk_notes ENABLE ROW LEVEL SECURITY;
CREATE POLICY rk_notes_mine ON rk_notes FOR SELECT
  USING (manager_id = NULLIF(current_setting('request.user_id', true), '')::int);
CREATE TABLE rk_notes_old (archived boolean NOT NULL DEFAULT true) INHERITS (rk_notes);
ALTER TABLE rk_notes_old ADD PRIMARY KEY (id);
COMMENT ON TABLE rk_notes_old IS 'Archived notes.';
INSERT INTO rk_notes SELECT g, 1 + g % 3, 'note ' || g FROM generate_series(1, 9) g;
INSERT INTO rk_notes_old (id, manager_id, body) SELECT g, 1 + g % 3, 'old ' || g FROM generate_series(10, 18) g;

CREATE TABLE rk_events (id int NOT NULL, manager_id int NOT NULL, at date NOT NULL, PRIMARY KEY (id, at))
  PARTITION BY RANGE (at);
COMMENT ON TABLE rk_events IS 'Events of account managers.';
CREATE TABLE rk_events_2024 PARTITION OF rk_events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE rk_events_2025 PARTITION OF rk_events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
ALTER TABLE rk_events ENABLE ROW LEVEL SECURITY;
CREATE POLICY rk_events_mine ON rk_events FOR SELECT
  USING (manager_id = NULLIF(current_setting('request.user_id', true), '')::int);
INSERT INTO rk_events SELECT g, 1 + g % 3, date '2024-06-01' + g * 30 FROM generate_series(1, 12) g;

CREATE SEQUENCE rk_seq;
SELECT nextval('rk_seq') FROM generate_series(1, 5);
CREATE MATERIALIZED VIEW rk_events_2024_mv AS SELECT * FROM rk_events_2024;
CREATE UNIQUE INDEX ON rk_events_2024_mv (id);

CREATE EXTENSION file_fdw;
CREATE SERVER rk_files FOREIGN DATA WRAPPER file_fdw;
CREATE FOREIGN TABLE rk_ft (id int, v text) SERVER rk_files OPTIONS (filename '/dev/null', format 'csv');

CREATE SCHEMA rk_hidden;
CREATE TABLE rk_hidden.secrets (id int PRIMARY KEY, v text);
COMMENT ON TABLE rk_hidden.secrets IS 'Secrets.';
INSERT INTO rk_hidden.secrets VALUES (1, 'launch code');
GRANT USAGE ON SCHEMA rk_hidden TO ` + shop.ReaderRole + `;
GRANT SELECT ON rk_notes, rk_notes_old, rk_events, rk_events_2024, rk_events_2025, rk_seq,
  rk_events_2024_mv, rk_ft, rk_hidden.secrets TO ` + shop.ReaderRole

// kindsFixture is the shop with kindsSchema, a profile "narrow" that
// reads public alone, and an engine over that configuration.
func kindsFixture(t *testing.T, tools func(*config.Config)) (*shopFixture, *config.Config, *policy.Engine) {
	t.Helper()
	f := newShopFixture(t)
	f.superExec(t, kindsSchema)
	cfg := config.Demo(f.cfg.Backend.DSN.Value())
	cfg.Profiles["narrow"] = config.Profile{AllowSchemas: []string{"public"}}
	if tools != nil {
		tools(cfg)
	}
	engine, err := policy.New(cfg.PolicyOptions())
	if err != nil {
		t.Fatal(err)
	}
	return f, cfg, engine
}

func (f *shopFixture) sessionAs(t *testing.T, cfg *config.Config, engine *policy.Engine, id policy.Identity) *session {
	t.Helper()
	st, err := newMCPStack(context.Background(), cfg, engine, f.pool, discardLogger(), &id, nil)
	if err != nil {
		t.Fatal(err)
	}
	return connectStack(t, st)
}

// TestMCPRelationKinds: the tools listed for the kinds schema are the
// ones the policy lets a client read, each call returns what the parent
// shows under row-level security, and a tool that is not listed (an
// inheritance child of an RLS table, a table of a schema the profile
// may not read) is refused when called by name.
func TestMCPRelationKinds(t *testing.T) {
	t.Parallel()
	f, cfg, engine := kindsFixture(t, nil)
	readonly := policy.Identity{UserID: "1", Profile: "readonly"}
	narrow := policy.Identity{UserID: "1", Profile: "narrow"}

	s := f.sessionAs(t, cfg, engine, readonly)
	names := s.toolNames(t)
	for _, want := range []string{"query_rk_notes", "query_rk_events", "query_rk_events_2024_mv", "query_rk_ft", "query_rk_hidden_secrets"} {
		if !slices.Contains(names, want) {
			t.Errorf("readonly: %s not listed; tools: %v", want, names)
		}
	}
	for _, n := range names {
		if strings.HasPrefix(n, "query_rk_notes_old") || strings.HasPrefix(n, "query_rk_events_202") && n != "query_rk_events_2024_mv" || strings.Contains(n, "rk_seq") {
			t.Errorf("readonly lists %s, which the policy refuses", n)
		}
	}
	for tool, parent := range map[string]string{"query_rk_notes": "rk_notes", "query_rk_events": "rk_events"} {
		rows, _ := s.walk(t, tool, map[string]any{"limit": 5})
		if want := f.superCount(t, "1", "SELECT count(*) FROM "+parent); len(rows) != want || want == 0 {
			t.Errorf("%s: %d rows; %s under row-level security shows %d", tool, len(rows), parent, want)
		}
		for _, r := range rows {
			if r["manager_id"] != float64(1) {
				t.Errorf("%s returned a row of manager %v to manager 1", tool, r["manager_id"])
			}
		}
	}
	if r := s.rows(t, "query_rk_ft", nil); r.RowCount != 0 {
		t.Errorf("query_rk_ft: %d rows from /dev/null", r.RowCount)
	}
	if msg := s.toolError(t, "query_rk_notes_old", nil); !strings.Contains(msg, "relation.partition") {
		t.Errorf("query_rk_notes_old called by name: %s", msg)
	}

	n := f.sessionAs(t, cfg, engine, narrow)
	if slices.Contains(n.toolNames(t), "query_rk_hidden_secrets") {
		t.Error("narrow lists query_rk_hidden_secrets")
	}
	if msg := n.toolError(t, "query_rk_hidden_secrets", nil); !strings.Contains(msg, "relation.denied") {
		t.Errorf("narrow calls query_rk_hidden_secrets: %s", msg)
	}
}

// TestMCPDiscoveryFollowsThePolicy: with every table behind the discovery
// tools, list_tables and describe_table name only the tables the caller's
// profile may read (an inheritance child of an RLS table and a schema the
// profile may not read stay out), as tools/list does, and query_table
// refuses the others.
func TestMCPDiscoveryFollowsThePolicy(t *testing.T) {
	t.Parallel()
	f, cfg, engine := kindsFixture(t, func(c *config.Config) { c.MCP.Tools.Discovery = "always" })
	for _, tc := range []struct {
		id      policy.Identity
		want    []string
		refused map[string]string // key: rule
	}{
		{policy.Identity{UserID: "1", Profile: "readonly"}, []string{"rk_notes", "rk_events", "rk_hidden_secrets"},
			map[string]string{"rk_notes_old": "relation.partition"}},
		{policy.Identity{UserID: "1", Profile: "narrow"}, []string{"rk_notes", "rk_events"},
			map[string]string{"rk_notes_old": "relation.partition", "rk_hidden_secrets": "relation.denied"}},
	} {
		t.Run(tc.id.Profile, func(t *testing.T) {
			s := f.sessionAs(t, cfg, engine, tc.id)
			var listed []string
			for _, q := range []string{"", "rk", "notes old", "secrets"} {
				res := s.call(t, "list_tables", map[string]any{"query": q, "limit": 500})
				var out struct {
					Tables []struct{ Table string } `json:"tables"`
				}
				b, _ := json.Marshal(res.StructuredContent)
				if err := json.Unmarshal(b, &out); err != nil || res.IsError {
					t.Fatalf("list_tables %q: %s", q, text(res))
				}
				for _, tb := range out.Tables {
					listed = append(listed, tb.Table)
				}
			}
			for _, w := range tc.want {
				if !slices.Contains(listed, w) {
					t.Errorf("list_tables does not name %s: %v", w, listed)
				}
				if res := s.call(t, "describe_table", map[string]any{"table": w}); res.IsError {
					t.Errorf("describe_table %s: %s", w, text(res))
				}
			}
			for key, rule := range tc.refused {
				if slices.Contains(listed, key) {
					t.Errorf("list_tables names %s, which the policy refuses (%s)", key, rule)
				}
				if msg := s.toolError(t, "describe_table", map[string]any{"table": key}); strings.Contains(msg, "archived") || strings.Contains(msg, "Secrets") {
					t.Errorf("describe_table %s describes it: %s", key, msg)
				}
				if msg := s.toolError(t, "query_table", map[string]any{"table": key}); strings.Contains(msg, "launch code") || strings.Contains(msg, "old 1") {
					t.Errorf("query_table %s: %s", key, msg)
				}
				if msg := s.toolError(t, "query_table", map[string]any{"table": strings.ReplaceAll(key, "_", "")}); strings.Contains(msg, key) {
					t.Errorf("the close-match hint names %s: %s", key, msg)
				}
			}
		})
	}
}

// TestMCPResourcesFollowThePolicy: the schema overview, the table
// resources and the explore_database prompt describe only the tables
// whose tools the caller's profile is shown, as tools/list and the
// discovery tools do.
func TestMCPResourcesFollowThePolicy(t *testing.T) {
	t.Parallel()
	f, cfg, engine := kindsFixture(t, nil)
	for _, tc := range []struct {
		id      policy.Identity
		want    []string // schema.table
		refused []string
	}{
		{policy.Identity{UserID: "1", Profile: "readonly"}, []string{"public.rk_notes", "rk_hidden.secrets"}, []string{"public.rk_notes_old"}},
		{policy.Identity{UserID: "1", Profile: "narrow"}, []string{"public.rk_notes"}, []string{"public.rk_notes_old", "rk_hidden.secrets"}},
	} {
		t.Run(tc.id.Profile, func(t *testing.T) {
			s := f.sessionAs(t, cfg, engine, tc.id)
			ctx := t.Context()
			uri := func(q string) string {
				schema, name, _ := strings.Cut(q, ".")
				return mcp.TableURI(introspect.QualifiedName{Schema: schema, Name: name})
			}
			list, err := s.cs.ListResources(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			var uris []string
			for _, r := range list.Resources {
				uris = append(uris, r.URI)
			}
			ov, err := s.cs.ReadResource(ctx, &sdk.ReadResourceParams{URI: mcp.SchemaURI})
			if err != nil {
				t.Fatal(err)
			}
			overview := ov.Contents[0].Text
			pr, err := s.cs.GetPrompt(ctx, &sdk.GetPromptParams{Name: "explore_database"})
			if err != nil {
				t.Fatal(err)
			}
			prompt := pr.Messages[0].Content.(*sdk.TextContent).Text
			for _, q := range tc.want {
				if !slices.Contains(uris, uri(q)) || !strings.Contains(overview, "## "+q+" ") || !strings.Contains(prompt, "("+q+")") {
					t.Errorf("%s is missing from resources/list, the overview or the prompt", q)
				}
				if _, err := s.cs.ReadResource(ctx, &sdk.ReadResourceParams{URI: uri(q)}); err != nil {
					t.Errorf("read %s: %v", uri(q), err)
				}
			}
			for _, q := range tc.refused {
				if slices.Contains(uris, uri(q)) {
					t.Errorf("resources/list has %s", uri(q))
				}
				if strings.Contains(overview, "## "+q+" ") {
					t.Errorf("the overview describes %s:\n%s", q, overview)
				}
				if strings.Contains(prompt, "("+q+")") {
					t.Errorf("the prompt names %s:\n%s", q, prompt)
				}
				if r, err := s.cs.ReadResource(ctx, &sdk.ReadResourceParams{URI: uri(q)}); err == nil {
					t.Errorf("read %s: %s", uri(q), r.Contents[0].Text)
				}
			}
		})
	}
}
