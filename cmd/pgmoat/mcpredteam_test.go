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
// shows under row-level security, an inheritance child of an RLS table
// has no tool, and a tool that is not listed to a profile (a table of a
// schema it may not read) is refused when called by name.
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
	// No profile may read the child by its own name: it has no tool.
	if res, err := s.cs.CallTool(t.Context(), &sdk.CallToolParams{Name: "query_rk_notes_old"}); err == nil {
		t.Errorf("query_rk_notes_old called by name: %s", text(res))
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

// oddSchema is a table whose column names are SQL keywords, hold quotes,
// dots and non-ASCII letters, or are spelled like the fixed parameters
// and like another column's filter, each behind an index so it gets a
// filter, with row-level security by manager.
const oddSchema = `
CREATE TABLE rk_odd (
  "select" int PRIMARY KEY, "a""b" text, "a_b" text, "x.y" int, "ünï" text, "limit" int, "select_in" int,
  amount numeric, ratio float8, at timestamptz, ts timestamp, d date, manager_id int NOT NULL);
COMMENT ON TABLE rk_odd IS 'Odd names.';
CREATE INDEX ON rk_odd ("a""b"); CREATE INDEX ON rk_odd ("a_b"); CREATE INDEX ON rk_odd ("x.y");
CREATE INDEX ON rk_odd ("limit"); CREATE INDEX ON rk_odd ("select_in");
CREATE INDEX ON rk_odd (amount); CREATE INDEX ON rk_odd (ratio); CREATE INDEX ON rk_odd (at);
CREATE INDEX ON rk_odd (ts); CREATE INDEX ON rk_odd (d);
CREATE INDEX ON rk_odd USING gin (to_tsvector('english', "ünï"));
CREATE INDEX ON rk_odd USING gin ("a""b" gin_trgm_ops);
ALTER TABLE rk_odd ENABLE ROW LEVEL SECURITY;
CREATE POLICY rk_odd_mine ON rk_odd FOR SELECT
  USING (manager_id = NULLIF(current_setting('request.user_id', true), '')::int);
INSERT INTO rk_odd SELECT g, 'q"' || g || '%', 'ab' || g, g * 10, 'word' || g || ' quick fox', 100 + g, 200 + g,
  g * 1.5, g / 4.0, timestamptz '2024-01-01 00:00Z' + g * interval '1 day', timestamp '2024-01-01' + g * interval '1 day',
  date '2024-01-01' + g, 1 + g % 3
  FROM generate_series(1, 30) g;
GRANT SELECT ON rk_odd TO ` + shop.ReaderRole

// TestMCPArgumentAttacksHeld: arguments that try to make the built
// statement read something else, or make the server evaluate something,
// are refused before any SQL runs, or read exactly the rows they name
// under row-level security (manager 1 owns the rows whose "select" is a
// multiple of 3).
func TestMCPArgumentAttacksHeld(t *testing.T) {
	t.Parallel()
	f, cfg, engine := kindsFixture(t, nil)
	f.superExec(t, oddSchema)
	alice := f.sessionAs(t, cfg, engine, policy.Identity{UserID: "1", Profile: "readonly"})
	const tool = "query_rk_odd"
	huge := make([]any, 100000)
	for i := range huge {
		huge[i] = i
	}
	for _, tc := range []struct {
		name string
		args map[string]any
		// want is the "select" values returned, in order; nil with
		// refused set means a tool error containing refused.
		want    []int64
		refused string
	}{
		{"a keyword column's filter", map[string]any{"select": 3}, []int64{3}, ""},
		{"a row of another manager by its key", map[string]any{"select": 4}, nil, ""},
		{"a column named like another's filter", map[string]any{"select_in": 203}, []int64{3}, ""},
		{"that other column's _in", map[string]any{"select_in_3294b0": []any{3, 4, 6}}, []int64{3, 6}, ""},
		{"a column named limit", map[string]any{"limit_6dc023": 103}, []int64{3}, ""},
		{"limit stays the limit", map[string]any{"limit": 2}, []int64{3, 6}, ""},
		{"a quoted column", map[string]any{"a_b_7da64a": `q"3%`}, []int64{3}, ""},
		{"the column its name folds to", map[string]any{"a_b": "ab3"}, []int64{3}, ""},
		{"a dotted column", map[string]any{"x_y": 30}, []int64{3}, ""},
		{"substring with a quote and %", map[string]any{"a_b_search": `"3%`}, []int64{3}, ""},
		{"substring _ is literal", map[string]any{"a_b_search": "_"}, nil, ""},
		{"substring backslash", map[string]any{"a_b_search": `\`}, nil, ""},
		{"full-text on a Unicode column", map[string]any{"uni_search": "word3"}, []int64{3}, ""},
		{"full-text unbalanced quote", map[string]any{"uni_search": `"word3`}, []int64{3}, ""},
		{"full-text operators only", map[string]any{"uni_search": `!!! & | <-> ((( ):*`}, nil, ""},
		// websearch syntax reads tsquery operators as separators: the words
		// word3 and fox, no syntax error.
		{"full-text tsquery syntax", map[string]any{"uni_search": `word3:* & !fox`}, []int64{3}, ""},
		{"a numeric bound of 8000 digits", map[string]any{"amount_gte": strings.Repeat("9", 8000)}, nil, ""},
		{"timestamp without zone", map[string]any{"ts": "2024-01-04 00:00:00"}, []int64{3}, ""},
		{"huge limit is capped", map[string]any{"limit": 1000000000000, "columns": []any{"select"}}, []int64{3, 6, 9, 12, 15, 18, 21, 24, 27, 30}, ""},
		{"order by a dotted column", map[string]any{"order_by": "x.y desc", "limit": 1}, []int64{30}, ""},

		{"columns: ctid", map[string]any{"columns": []any{"ctid"}}, nil, "is not a column"},
		{"columns: xmin", map[string]any{"columns": []any{"xmin"}}, nil, "is not a column"},
		{"columns: tableoid", map[string]any{"columns": []any{"tableoid"}}, nil, "is not a column"},
		{"columns: qualified", map[string]any{"columns": []any{"t.select"}}, nil, "is not a column"},
		{"columns: quoted escape", map[string]any{"columns": []any{`select", pg_read_file('/etc/passwd') AS "z`}}, nil, "is not a column"},
		{"columns: another table's column", map[string]any{"columns": []any{"body"}}, nil, "is not a column"},
		{"columns: an alias", map[string]any{"columns": []any{"manager_id AS select"}}, nil, "is not a column"},
		{"columns: empty", map[string]any{"columns": []any{}}, nil, "non-empty"},
		{"order_by: ctid", map[string]any{"order_by": "ctid"}, nil, "order_by must be"},
		{"order_by: tableoid", map[string]any{"order_by": "tableoid desc"}, nil, "order_by must be"},
		{"order_by: expression", map[string]any{"order_by": "random()"}, nil, "order_by must be"},
		{"order_by: two keys", map[string]any{"order_by": "select asc, ctid"}, nil, "order_by must be"},
		{"order_by: nulls", map[string]any{"order_by": "select asc nulls first"}, nil, "order_by must be"},
		{"order_by: case", map[string]any{"order_by": "SELECT"}, nil, "order_by must be"},
		{"order_by: unindexed", map[string]any{"order_by": "ünï"}, nil, "order_by must be"},
		{"unknown parameter ctid", map[string]any{"ctid": "(0,1)"}, nil, "has no parameter"},
		{"unknown parameter qualified", map[string]any{"t.select": 1}, nil, "has no parameter"},
		{"integer as SQL", map[string]any{"select": "1 OR 1=1"}, nil, "must be an integer"},
		{"integer beyond int64", map[string]any{"select": json.Number("9223372036854775808")}, nil, "must be an integer"},
		{"integer beyond int4", map[string]any{"select": json.Number("2147483648")}, nil, "out of range"},
		{"integer in exponent form", map[string]any{"select": json.Number("1e3")}, nil, "must be an integer"},
		{"integer with a fraction", map[string]any{"select": json.Number("3.0")}, nil, "must be an integer"},
		{"numeric NaN", map[string]any{"amount": "NaN"}, nil, "decimal number"},
		{"numeric Infinity", map[string]any{"amount_lte": "Infinity"}, nil, "decimal number"},
		{"numeric -Infinity", map[string]any{"amount_gte": "-Infinity"}, nil, "decimal number"},
		{"numeric exponent", map[string]any{"amount": "1e5"}, nil, "decimal number"},
		{"numeric padded", map[string]any{"amount": " 4.5"}, nil, "decimal number"},
		{"numeric as a JSON number", map[string]any{"amount": 4.5}, nil, "decimal number"},
		{"float NaN string", map[string]any{"ratio": "NaN"}, nil, "must be a number"},
		{"float Infinity string", map[string]any{"ratio_gte": "Infinity"}, nil, "must be a number"},
		{"float beyond float64", map[string]any{"ratio": json.Number("1e400")}, nil, "must be a number"},
		{"timestamptz infinity", map[string]any{"at_gte": "infinity"}, nil, "timestamp"},
		{"timestamptz -infinity", map[string]any{"at_lte": "-infinity"}, nil, "timestamp"},
		{"timestamptz now", map[string]any{"at": "now"}, nil, "timestamp"},
		{"timestamptz epoch", map[string]any{"at": "epoch"}, nil, "timestamp"},
		{"timestamptz today", map[string]any{"at_gte": "today"}, nil, "timestamp"},
		{"timestamptz with SQL", map[string]any{"at": "2024-01-04T00:00:00Z' OR '1'='1"}, nil, "timestamp"},
		{"timestamp now", map[string]any{"ts_gte": "now"}, nil, "(timestamp)"},
		{"timestamp infinity", map[string]any{"ts_lte": "infinity"}, nil, "(timestamp)"},
		{"timestamp epoch", map[string]any{"ts": "epoch"}, nil, "(timestamp)"},
		{"timestamp allballs", map[string]any{"ts": "allballs"}, nil, "(timestamp)"},
		{"date today", map[string]any{"d": "today"}, nil, "date"},
		{"date infinity", map[string]any{"d_gte": "infinity"}, nil, "date"},
		{"date epoch", map[string]any{"d_lte": "epoch"}, nil, "date"},
		{"date tomorrow in a list", map[string]any{"d_in": []any{"2024-01-04", "tomorrow"}}, nil, "date"},
		{"_in of 100k values", map[string]any{"select_in_3294b0": huge}, nil, "at most"},
		{"_in empty", map[string]any{"select_in_3294b0": []any{}}, nil, "at least one"},
		{"_in with null", map[string]any{"select_in_3294b0": []any{3, nil}}, nil, "null"},
		{"_in nested", map[string]any{"select_in_3294b0": []any{[]any{3}}}, nil, "must be an integer"},
		{"full-text above the value limit", map[string]any{"uni_search": strings.Repeat("w", 8<<10+1)}, nil, "bytes long"},
		{"substring with NUL", map[string]any{"a_b_search": "a\x00b"}, nil, "NUL"},
		{"limit 0", map[string]any{"limit": 0}, nil, "at least 1"},
		{"limit negative", map[string]any{"limit": -1}, nil, "at least 1"},
		{"limit as a string", map[string]any{"limit": "10"}, nil, "must be an integer"},
		{"limit fraction", map[string]any{"limit": 2.5}, nil, "must be an integer"},
		{"limit exponent", map[string]any{"limit": json.Number("1e3")}, nil, "must be an integer"},
		{"cursor garbage", map[string]any{"cursor": "x"}, nil, "cursor is not valid"},
		{"cursor forged MAC", map[string]any{"cursor": "eyJ2IjoxLCJxIjoiIiwiayI6WyIwIl19.AAAA"}, nil, "cursor is not valid"},
		{"cursor empty", map[string]any{"cursor": ""}, nil, "cursor must be"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := alice.call(t, tool, tc.args)
			if tc.refused != "" {
				if !res.IsError || !strings.Contains(text(res), tc.refused) {
					t.Fatalf("%v: want a tool error with %q, got %s", tc.args, tc.refused, text(res))
				}
				return
			}
			if res.IsError {
				t.Fatalf("%v: %s", tc.args, text(res))
			}
			if got := ids(t, decodeResult(t, res), "select"); !slices.Equal(got, tc.want) {
				t.Fatalf("%v: select %v, want %v", tc.args, got, tc.want)
			}
		})
	}
	t.Run("columns return just those columns", func(t *testing.T) {
		r := alice.rows(t, tool, map[string]any{"columns": []any{"x.y", `a"b`}, "select": 3})
		if len(r.Rows) != 1 || len(r.Rows[0]) != 2 || r.Rows[0]["x.y"] != float64(30) || r.Rows[0][`a"b`] != `q"3%` {
			t.Fatalf("rows %v", r.Rows)
		}
	})
}

// TestMCPCursorReplayHeld: a cursor continues only the query and the
// caller it was made for, under the key that signed it.
func TestMCPCursorReplayHeld(t *testing.T) {
	t.Parallel()
	f, cfg, engine := kindsFixture(t, nil)
	f.superExec(t, oddSchema)
	one := policy.Identity{UserID: "1", Profile: "readonly"}
	alice := f.sessionAs(t, cfg, engine, one)
	first := alice.rows(t, "query_rk_odd", map[string]any{"limit": 3, "columns": []any{"select"}})
	if first.NextCursor == "" {
		t.Fatal("no cursor")
	}
	cur := first.NextCursor
	if got := ids(t, alice.rows(t, "query_rk_odd", map[string]any{"limit": 3, "cursor": cur}), "select"); !slices.Equal(got, []int64{12, 15, 18}) {
		t.Fatalf("second page %v", got)
	}
	rekeyed := *cfg
	rekeyed.MCP.CursorSecret = "another secret of thirty-two bytes!"
	for _, tc := range []struct {
		name string
		s    *session
		tool string
		args map[string]any
	}{
		{"another user", f.sessionAs(t, cfg, engine, policy.Identity{UserID: "2", Profile: "readonly"}), "query_rk_odd", nil},
		{"another profile", f.sessionAs(t, cfg, engine, policy.Identity{UserID: "1", Profile: "narrow"}), "query_rk_odd", nil},
		{"another filter", alice, "query_rk_odd", map[string]any{"d_gte": "2024-01-01"}},
		{"another order", alice, "query_rk_odd", map[string]any{"order_by": "select desc"}},
		{"another tool", alice, "query_rk_notes", nil},
		{"another key", f.sessionAs(t, &rekeyed, engine, one), "query_rk_odd", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := map[string]any{"cursor": cur}
			for k, v := range tc.args {
				args[k] = v
			}
			if msg := tc.s.toolError(t, tc.tool, args); !strings.Contains(msg, "cursor is not valid") {
				t.Fatalf("%s: %s", tc.name, msg)
			}
		})
	}
}

// TestMCPBudgetSkipsUnreadableRelations: a relation no profile may read
// (here an inheritance child of a table with row-level security, the
// bigger table of the two) takes no place among the table tools listed
// one by one: with room for one, the readable parent is the one listed.
func TestMCPBudgetSkipsUnreadableRelations(t *testing.T) {
	t.Parallel()
	f, cfg, engine := kindsFixture(t, func(c *config.Config) {
		c.MCP.Tools.Include = []string{"rk_notes", "rk_notes_old"}
		c.MCP.Tools.DiscoveryThreshold = 1
	})
	f.superExec(t, `INSERT INTO rk_notes_old (id, manager_id, body) SELECT g, 1 + g % 3, 'old ' || g FROM generate_series(100, 3000) g;
ANALYZE rk_notes_old`)
	s := f.sessionAs(t, cfg, engine, policy.Identity{UserID: "1", Profile: "readonly"})
	if names := s.toolNames(t); !slices.Contains(names, "query_rk_notes") {
		t.Fatalf("tools/list: %v; want query_rk_notes listed, the one table tool the profile may run", names)
	}
}

// TestMCPNarrowedProfileHeld: once a profile is narrowed (a RELOAD that
// takes a schema away), a statement shape the door built and verified
// before is refused, and tools/list and list_tables drop the tool.
func TestMCPNarrowedProfileHeld(t *testing.T) {
	t.Parallel()
	f, cfg, engine := kindsFixture(t, nil)
	s := f.sessionAs(t, cfg, engine, policy.Identity{UserID: "1", Profile: "readonly"})
	if r := s.rows(t, "query_rk_hidden_secrets", map[string]any{"id": 1}); r.RowCount != 1 {
		t.Fatalf("query_rk_hidden_secrets: %d rows", r.RowCount)
	}
	profiles := cfg.PolicyOptions().Profiles
	p := profiles["readonly"]
	p.AllowSchemas = []string{"public"}
	profiles["readonly"] = p
	if err := engine.SetProfiles(profiles); err != nil {
		t.Fatal(err)
	}
	if msg := s.toolError(t, "query_rk_hidden_secrets", map[string]any{"id": 1}); !strings.Contains(msg, "relation.denied") {
		t.Errorf("the same call after narrowing: %s", msg)
	}
	if slices.Contains(s.toolNames(t), "query_rk_hidden_secrets") {
		t.Error("tools/list keeps query_rk_hidden_secrets after narrowing")
	}
}

// TestMCPRelatedHintsFollowThePolicy: a table's description names the
// related tools (foreign keys either way) the caller's profile is shown
// and no other: a table of a schema the profile may not read that
// references it is named neither in tools/list nor by the discovery
// tools nor in the resources.
func TestMCPRelatedHintsFollowThePolicy(t *testing.T) {
	t.Parallel()
	for _, discovery := range []string{"never", "always"} {
		t.Run(discovery, func(t *testing.T) {
			t.Parallel()
			f, cfg, engine := kindsFixture(t, func(c *config.Config) { c.MCP.Tools.Discovery = discovery })
			f.superExec(t, `ALTER TABLE rk_hidden.secrets ADD COLUMN note_id int REFERENCES rk_notes(id);
CREATE INDEX ON rk_hidden.secrets (note_id)`)
			for _, tc := range []struct {
				profile string
				named   bool
			}{{"readonly", true}, {"narrow", false}} {
				s := f.sessionAs(t, cfg, engine, policy.Identity{UserID: "1", Profile: tc.profile})
				var texts []string
				list, err := s.cs.ListTools(t.Context(), nil)
				if err != nil {
					t.Fatal(err)
				}
				for _, tool := range list.Tools {
					if tool.Name == "query_rk_notes" {
						texts = append(texts, tool.Description)
					}
				}
				if discovery == "always" {
					texts = append(texts, text(s.call(t, "list_tables", map[string]any{"query": "notes"})),
						text(s.call(t, "describe_table", map[string]any{"table": "rk_notes"})))
				}
				ov, err := s.cs.ReadResource(t.Context(), &sdk.ReadResourceParams{URI: mcp.SchemaURI})
				if err != nil {
					t.Fatal(err)
				}
				texts = append(texts, ov.Contents[0].Text)
				for i, txt := range texts {
					if got := strings.Contains(txt, "rk_hidden_secrets by note_id"); got != tc.named {
						t.Errorf("%s, text %d names the hidden table's tool: %v, want %v:\n%s", tc.profile, i, got, tc.named, txt)
					}
				}
				if tc.named || discovery != "always" {
					continue
				}
				// The hint must not make a search for the hidden table
				// find the table it references.
				if res := s.call(t, "list_tables", map[string]any{"query": "secrets"}); strings.Contains(text(res), "rk_notes") {
					t.Errorf("list_tables secrets finds rk_notes through the hint: %s", text(res))
				}
			}
		})
	}
}

// TestMCPQueryTableArgumentsHeld: query_table takes a table's filters
// only inside filters, and its fixed parameters only outside.
func TestMCPQueryTableArgumentsHeld(t *testing.T) {
	t.Parallel()
	f, cfg, engine := kindsFixture(t, func(c *config.Config) { c.MCP.Tools.Discovery = "always" })
	s := f.sessionAs(t, cfg, engine, policy.Identity{UserID: "1", Profile: "readonly"})
	for _, tc := range []struct {
		name string
		args map[string]any
		want string
	}{
		{"limit inside filters", map[string]any{"table": "rk_notes", "filters": map[string]any{"limit": 5}}, "has no parameter"},
		{"cursor inside filters", map[string]any{"table": "rk_notes", "filters": map[string]any{"cursor": "x"}}, "has no parameter"},
		{"a filter outside filters", map[string]any{"table": "rk_notes", "id": 3}, "query_table has no parameter"},
		{"a system column as a filter", map[string]any{"table": "rk_notes", "filters": map[string]any{"ctid": "(0,1)"}}, "has no parameter"},
		{"filters not an object", map[string]any{"table": "rk_notes", "filters": "id = 3"}, "filters must be an object"},
		{"a qualified table", map[string]any{"table": "public.rk_notes"}, "There is no table"},
		{"a quoted table", map[string]any{"table": `"rk_notes"`}, "There is no table"},
		{"a sequence", map[string]any{"table": "rk_seq"}, "There is no table"},
		{"a partition", map[string]any{"table": "rk_events_2024"}, "There is no table"},
		{"a system catalog", map[string]any{"table": "pg_authid"}, "There is no table"},
		{"a table as a number", map[string]any{"table": 3}, "needs table"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if msg := s.toolError(t, "query_table", tc.args); !strings.Contains(msg, tc.want) {
				t.Fatalf("%v: %s", tc.args, msg)
			}
		})
	}
	r := s.rows(t, "query_table", map[string]any{"table": "rk_notes", "filters": map[string]any{"id": 3}})
	if got := ids(t, r, "id"); !slices.Equal(got, []int64{3}) {
		t.Fatalf("query_table rk_notes id 3: %v", got)
	}
}
