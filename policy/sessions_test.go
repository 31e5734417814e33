package policy

import (
	"strings"
	"testing"
)

// otherSessions are statements that would show what other identities did
// on a shared backend, or the server's internals, each with the rule that
// must fire.
var otherSessions = []struct{ sql, rule string }{
	// prepared statements and cursors another borrower left on the backend
	{"select * from pg_prepared_statements", RuleRelation},
	{"select statement from pg_catalog.pg_prepared_statements", RuleRelation},
	{"select * from pg_prepared_statement()", RuleFunction},
	{"select (pg_catalog.pg_prepared_statement()).statement", RuleFunction},
	{"select 'pg_prepared_statements'::regclass", RuleRelation},
	{"select * from pg_cursors", RuleRelation},
	{"select * from pg_cursor()", RuleFunction},
	{"select pg_listening_channels()", RuleFunction},
	// pg_stat_statements wherever the extension was installed
	{"select query from pg_stat_statements", RuleRelation},
	{"select query from public.pg_stat_statements", RuleRelation},
	{"select * from public.pg_stat_statements_info", RuleRelation},
	{`select * from "public"."pg_stat_statements"`, RuleRelation},
	{"select 'public.pg_stat_statements'::regclass", RuleRelation},
	{"select * from pg_stat_statements(true)", RuleFunction},
	{"select * from public.pg_stat_statements(true)", RuleFunction},
	{"select public.pg_stat_statements_reset()", RuleFunction},
	{"select * from public.pg_stat_statements_info()", RuleFunction},
	// per-backend activity, progress, locks
	{"select * from pg_stat_ssl", RuleRelation},
	{"select * from pg_stat_gssapi", RuleRelation},
	{"select * from pg_locks", RuleRelation},
	{"select * from pg_lock_status()", RuleFunction},
	{"select pg_blocking_pids(1)", RuleFunction},
	{"select pg_safe_snapshot_blocking_pids(1)", RuleFunction},
	{"select * from pg_stat_progress_vacuum", RuleRelation},
	{"select * from pg_stat_progress_create_index", RuleRelation},
	{"select * from pg_stat_progress_copy", RuleRelation},
	{"select * from pg_stat_get_progress_info('VACUUM')", RuleFunction},
	{"select pg_stat_get_backend_activity(1)", RuleFunction},
	{"select pg_current_snapshot()", RuleFunction},
	{"select txid_current_snapshot()", RuleFunction},
	{"select * from pg_last_committed_xact()", RuleFunction},
	{"select * from pg_prepared_xact()", RuleFunction},
	// replication and subscriptions
	{"select * from pg_stat_get_subscription(null)", RuleFunction},
	{"select * from pg_stat_subscription_stats", RuleRelation},
	{"select * from pg_stat_replication_slots", RuleRelation},
	{"select * from pg_replication_origin_status", RuleRelation},
	// server configuration and internals
	{"select * from pg_config()", RuleFunction},
	{"select * from pg_show_all_file_settings()", RuleFunction},
	{"select * from pg_hba_file_rules()", RuleFunction},
	{"select * from pg_control_system()", RuleFunction},
	{"select * from pg_get_backend_memory_contexts()", RuleFunction},
	{"select * from pg_shmem_allocations", RuleRelation},
	{"select * from pg_get_shmem_allocations()", RuleFunction},
	// extensions reading rows past row-level security
	{"select * from heap_page_items(get_raw_page('customers', 0))", RuleFunction},
	{"select * from public.pgrowlocks('customers')", RuleFunction},
	{"select * from pg_get_wal_records_info('0/0', '0/FFFFFF')", RuleFunction},
}

func TestOtherSessionsDenied(t *testing.T) {
	// One offline engine and one whose online catalog knows the
	// extension's objects in public, as introspection reports them.
	online := relCatalog{BuiltinFunctions(), map[string]bool{"public.pg_stat_statements": true, "public.pg_stat_statements_info": true}}
	online.FunctionMap = withFunctions(online.FunctionMap, map[string]Volatility{
		"public.pg_stat_statements": Volatile, "public.pg_stat_statements_info": Volatile,
		"public.pg_stat_statements_reset": Volatile, "public.pgrowlocks": Volatile,
	})
	offline := newTestEngine(t)
	onlineEngine, err := New(Options{Functions: online})
	if err != nil {
		t.Fatal(err)
	}
	// A profile that allows every volatile function by name still
	// cannot open them: deny lists win.
	open, err := New(Options{Profiles: map[string]Profile{DefaultProfile: {AllowFunctions: namesOf(otherSessions)}}})
	if err != nil {
		t.Fatal(err)
	}
	for name, e := range map[string]*Engine{"offline": offline, "online": onlineEngine, "allow-listed": open} {
		for _, c := range otherSessions {
			v := e.Decide(Identity{UserID: "1"}, c.sql)
			if v.Allowed {
				t.Errorf("%s: allowed %q", name, c.sql)
				continue
			}
			if v.Rule != c.rule || v.SQLState != SQLStateDenied || !strings.HasPrefix(v.Err().Error(), "pgmoat: "+c.rule+": ") {
				t.Errorf("%s: %q: got %s %s (%s); want %s", name, c.sql, v.Rule, v.SQLState, v.Reason, c.rule)
			}
		}
	}
}

// TestDenyRelationInEveryPattern checks the "*.name" form of a profile's
// deny_relations and that a bare name is still refused with a hint.
func TestDenyRelationInEverySchema(t *testing.T) {
	p := Profile{AllowSchemas: []string{"public", "shop"}, SearchPath: []string{"shop", "public"}, DenyRelations: []string{"*.audit_log"}}
	e, err := New(Options{Profiles: map[string]Profile{"p": p}})
	if err != nil {
		t.Fatal(err)
	}
	id := Identity{Profile: "p"}
	for _, sql := range []string{"select * from audit_log", "select * from shop.audit_log", "select * from public.audit_log", "select 'audit_log'::regclass"} {
		if v := e.Decide(id, sql); v.Allowed || v.Rule != RuleRelation {
			t.Errorf("%q: %+v", sql, v)
		}
	}
	for _, sql := range []string{"select * from shop.audit_logs", "select * from public.log"} {
		if v := e.Decide(id, sql); !v.Allowed {
			t.Errorf("%q denied: %s", sql, v.Reason)
		}
	}
	p.DenyRelations = []string{"audit_log"}
	if _, err := New(Options{Profiles: map[string]Profile{"p": p}}); err == nil || !strings.Contains(err.Error(), `"*.audit_log"`) {
		t.Errorf("bare deny_relations entry: %v", err)
	}
}

func withFunctions(m FunctionMap, add map[string]Volatility) FunctionMap {
	out := make(FunctionMap, len(m)+len(add))
	for k, v := range m {
		out[k] = v
	}
	for k, v := range add {
		out[k] = v
	}
	return out
}

// namesOf extracts every identifier followed by "(" from the statements,
// to build an allow list naming each function they call.
func namesOf(cases []struct{ sql, rule string }) []string {
	var out []string
	for _, c := range cases {
		for _, f := range strings.FieldsFunc(c.sql, func(r rune) bool { return r == ' ' || r == ',' }) {
			if name, _, ok := strings.Cut(f, "("); ok && name != "" {
				out = append(out, strings.TrimPrefix(name, "pg_catalog."), name)
			}
		}
	}
	return out
}
