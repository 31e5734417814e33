package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pgmoat/pgmoat/cmd/pgmoat/config"
	"github.com/pgmoat/pgmoat/integration/shop"
	"github.com/pgmoat/pgmoat/policy"
)

// TestToolsFollowReadableSchemas: online, a schema the backend role holds
// USAGE on is readable by default, so its tables' tools are listed and
// work; a schema without USAGE gets no tools; a profile restricted to
// public does not see the other schema's tools (invariant 11); pgmoat
// tools and doctor say what was left out and why; offline, public alone
// stays readable.
func TestToolsFollowReadableSchemas(t *testing.T) {
	t.Parallel()
	f := newShopFixture(t)
	reader := shop.ReaderRole
	f.superExec(t, `CREATE SCHEMA crm; CREATE TABLE crm.contacts (id int PRIMARY KEY, name text);
		INSERT INTO crm.contacts VALUES (1, 'Ada'), (2, 'Grace');
		GRANT USAGE ON SCHEMA crm TO `+reader+`; GRANT SELECT ON crm.contacts TO `+reader+`;
		CREATE SCHEMA vault; CREATE TABLE vault.keys (id int PRIMARY KEY);
		GRANT SELECT ON vault.keys TO `+reader)
	cfg := config.Demo(f.cfg.Backend.DSN.Value())
	cfg.Profiles["narrow"] = config.Profile{AllowSchemas: []string{"public"}}
	engine, err := policy.New(cfg.PolicyOptions())
	if err != nil {
		t.Fatal(err)
	}
	listed := func(id policy.Identity) []string {
		st, err := newMCPStack(context.Background(), cfg, engine, f.pool, discardLogger(), &id, nil)
		if err != nil {
			t.Fatal(err)
		}
		s := connectStack(t, st)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		res, err := s.cs.ListTools(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, tool := range res.Tools {
			names = append(names, tool.Name)
		}
		if slices.Contains(names, "query_crm_contacts") {
			if r := s.rows(t, "query_crm_contacts", map[string]any{"limit": 10}); r.RowCount != 2 {
				t.Errorf("query_crm_contacts: %d rows, want 2", r.RowCount)
			}
		}
		return names
	}
	readonly := listed(policy.Identity{UserID: "1", Profile: "readonly"})
	if !slices.Contains(readonly, "query_crm_contacts") || !slices.Contains(readonly, "query_customers") || slices.Contains(readonly, "query_vault_keys") {
		t.Errorf("readonly lists %v; want query_crm_contacts and query_customers, not query_vault_keys", readonly)
	}
	if v := engine.Decide(policy.Identity{Profile: "readonly"}, "SELECT name FROM crm.contacts"); v.Err() != nil {
		t.Errorf("the proxy door refuses the granted schema: %v", v.Err())
	}
	narrow := listed(policy.Identity{UserID: "1", Profile: "narrow"})
	if slices.Contains(narrow, "query_crm_contacts") || !slices.Contains(narrow, "query_customers") {
		t.Errorf("narrow lists %v; want query_customers without query_crm_contacts", narrow)
	}

	path := filepath.Join(t.TempDir(), "pgmoat.yaml")
	text := "backend:\n  dsn: \"" + strings.ReplaceAll(f.cfg.Backend.DSN.Value(), `"`, `\"`) + "\"\n" +
		"profiles:\n  readonly: {}\n  narrow:\n    allow_schemas: [public]\n"
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args          []string
		want, wantNot []string
	}{
		{[]string{"tools", "--config", path}, []string{"query_crm_contacts", "Left out for profile readonly", "vault.keys: the backend role has no USAGE on schema vault"}, []string{"query_vault_keys"}},
		{[]string{"tools", "--config", path, "--profile", "narrow"}, []string{"Left out for profile narrow", "crm.contacts (query_crm_contacts): pgmoat: relation.denied"}, []string{"query_crm_contacts  ["}},
		{[]string{"doctor", "--config", path}, []string{"[warn] tools.narrow", "crm.contacts", "[warn] tools.readonly", "no USAGE on schema vault"}, nil},
	} {
		var stdout, stderr bytes.Buffer
		run(env{ctx: context.Background(), stdout: &stdout, stderr: &stderr}, tc.args)
		for _, w := range tc.want {
			if !strings.Contains(stdout.String(), w) {
				t.Errorf("%v: no %q in\n%s%s", tc.args, w, stdout.String(), stderr.String())
			}
		}
		for _, w := range tc.wantNot {
			if strings.Contains(stdout.String(), w) {
				t.Errorf("%v: %q in\n%s", tc.args, w, stdout.String())
			}
		}
	}

	var out bytes.Buffer
	if code := runCheck([]string{"SELECT name FROM crm.contacts"}, strings.NewReader(""), &out, &out); code != exitNo || !strings.Contains(out.String(), "relation.denied") {
		t.Errorf("offline check of a non-public schema: exit %d\n%s", code, out.String())
	}
}
