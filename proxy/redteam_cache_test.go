package proxy

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/pgmoat/pgmoat/policy"
)

// wantDenial fails unless err is the 42501 denial of rule.
func wantDenial(t *testing.T, what string, err error, rule string) {
	t.Helper()
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != policy.SQLStateDenied || !strings.HasPrefix(pe.Message, "pgmoat: "+rule+":") {
		t.Errorf("%s: want 42501 pgmoat: %s:, got %v", what, rule, err)
	}
}

// TestRedteamCacheReloadMidSession swaps the profiles under connected
// clients, as RELOAD does, and asks again what was judged before:
//   - a client whose profile the reload removed is refused (rule profile)
//     at its next statement, prepared ones too, and runs again once the
//     profile is back: it keeps its identity, never another profile's;
//   - inside an open transaction, a text judged (and cached) allowed
//     before deny_relations gained its table is refused at once, and the
//     transaction still ends;
//   - a new statement_timeout reaches a connected client from its next
//     transaction on, as the README says, and not inside the open one.
func TestRedteamCacheReloadMidSession(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	ctx := context.Background()
	engine := f.server.engine
	profiles := func(patient bool, timeout time.Duration, deny ...string) map[string]policy.Profile {
		ps := map[string]policy.Profile{"readonly": {Name: "readonly", StatementTimeout: timeout, DenyRelations: deny}}
		if patient {
			ps["patient"] = policy.Profile{Name: "patient", StatementTimeout: 7 * time.Second}
		}
		return ps
	}
	set := func(ps map[string]policy.Profile) {
		t.Helper()
		if err := engine.SetProfiles(ps); err != nil {
			t.Fatal(err)
		}
	}
	const count = "SELECT count(*) FROM items"

	t.Run("removed profile", func(t *testing.T) {
		set(profiles(true, 0))
		carol := f.connect(t, "carol", pgx.QueryExecModeSimpleProtocol)
		if _, err := carol.Prepare(ctx, "c", count); err != nil {
			t.Fatal(err)
		}
		var n int
		if err := carol.QueryRow(ctx, count).Scan(&n); err != nil {
			t.Fatal(err)
		}
		set(profiles(false, 0))
		_, err := carol.Exec(ctx, count)
		wantDenial(t, "a text, after the profile was removed", err, policy.RuleProfile)
		_, err = carol.Exec(ctx, "c", pgx.QueryExecModeExec)
		wantDenial(t, "a statement prepared before, after the profile was removed", err, policy.RuleProfile)
		set(profiles(true, 0))
		var timeout string
		if err := carol.QueryRow(ctx, "SHOW statement_timeout").Scan(&timeout); err != nil || timeout != "7s" {
			t.Errorf("carol once patient is back: statement_timeout %q, %v", timeout, err)
		}
	})

	t.Run("deny inside a transaction", func(t *testing.T) {
		set(profiles(true, 0))
		alice := f.connect(t, "alice", pgx.QueryExecModeSimpleProtocol)
		tx, err := alice.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var n int
		if err := tx.QueryRow(ctx, count).Scan(&n); err != nil {
			t.Fatal(err)
		}
		set(profiles(true, 0, "public.items"))
		_, err = tx.Exec(ctx, count)
		wantDenial(t, "the same text in the same transaction, after deny_relations gained items", err, policy.RuleRelation)
		if err := tx.Rollback(ctx); err != nil {
			t.Errorf("ROLLBACK after the denial: %v", err)
		}
		set(profiles(true, 0))
		if err := alice.QueryRow(ctx, count).Scan(&n); err != nil {
			t.Errorf("after the deny went away: %v", err)
		}
	})

	t.Run("statement_timeout from the next transaction", func(t *testing.T) {
		set(profiles(true, 0))
		alice := f.connect(t, "alice", pgx.QueryExecModeSimpleProtocol)
		show := func(q interface {
			QueryRow(context.Context, string, ...any) pgx.Row
		}) string {
			t.Helper()
			var v string
			if err := q.QueryRow(ctx, "SELECT current_setting('statement_timeout')").Scan(&v); err != nil {
				t.Fatal(err)
			}
			return v
		}
		before := show(alice)
		tx, err := alice.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		show(tx)
		set(profiles(true, 250*time.Millisecond))
		if got := show(tx); got != before {
			t.Errorf("inside the open transaction the timeout changed to %s (was %s)", got, before)
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		if got := show(alice); got != "250ms" {
			t.Errorf("the next transaction after the reload runs with statement_timeout %s, want 250ms", got)
		}
		// The new timeout is enforced, not only shown.
		_, err = alice.Exec(ctx, "SELECT count(*) FROM generate_series(1, 100000000)")
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != "57014" {
			t.Errorf("a long query under the reloaded 250ms timeout: %v", err)
		}
	})
}

// TestRedteamCacheAdminRoleFollowsReload keeps an admin-console session
// open across a RELOAD that demotes its user to auditor, then one that
// removes it: as PostgreSQL checks a role's rights at each statement,
// the open console loses RELOAD, PAUSE, RESUME and KILL with the
// demotion, and every command with the removal (SHOW DENIALS shows other
// clients' statements), while the session stays open.
func TestRedteamCacheAdminRoleFollowsReload(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	ctx := context.Background()
	host, port, _ := strings.Cut(f.addr, ":")
	cfg, err := pgx.ParseConfig("host=" + host + " port=" + port + " user=dba password=dba dbname=" + AdminDatabase + " sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	console, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer console.Close(ctx)
	if _, err := console.Exec(ctx, "RESUME"); err != nil {
		t.Fatalf("RESUME as an admin: %v", err)
	}
	users := map[string]User{"alice": {Password: "alice", Identity: policy.Identity{UserID: "1", Profile: "readonly"}}}
	reconfigure := func(admins map[string]AdminUser) {
		t.Helper()
		if err := f.server.Reconfigure(Reconfig{Users: users, Admins: admins, Profiles: []string{"readonly"}}); err != nil {
			t.Fatal(err)
		}
	}
	reconfigure(map[string]AdminUser{"dba": {Password: "dba", Role: AdminRoleAuditor}})
	_, err = console.Exec(ctx, "RESUME")
	wantDenial(t, "RESUME after dba became an auditor", err, "admin.role")
	if _, err := console.Exec(ctx, "SHOW VERSION"); err != nil {
		t.Errorf("SHOW as an auditor: %v", err)
	}
	reconfigure(map[string]AdminUser{"ops": {Password: "ops"}})
	for _, cmd := range []string{"RESUME", "SHOW DENIALS", "CHECK SELECT 1"} {
		_, err = console.Exec(ctx, cmd)
		wantDenial(t, cmd+" after dba was removed", err, "admin.role")
	}
	reconfigure(map[string]AdminUser{"dba": {Password: "dba"}})
	if _, err := console.Exec(ctx, "RESUME"); err != nil {
		t.Errorf("RESUME once dba is an admin again: %v", err)
	}
}

// TestRedteamCachePortalAfterMaxRowsReload binds a portal under the
// default max_rows, fetches one row, and lowers max_rows as a RELOAD
// does: the rest of the portal must not bring more rows than the new
// cap allows (the portal's LIMIT is the old rules' rewrite), so its next
// Execute is refused (42501, limit.rewrite) and the session goes on.
func TestRedteamCachePortalAfterMaxRowsReload(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	srv, addr := trustServer(t, f)
	c := rawLogin(t, addr, f.db)
	c.send(t, &pgproto3.Query{String: "BEGIN"})
	if _, err := c.answer(); err != nil {
		t.Fatal(err)
	}
	c.send(t, &pgproto3.Parse{Query: "SELECT label FROM items ORDER BY id"},
		&pgproto3.Bind{DestinationPortal: "p"}, &pgproto3.Execute{Portal: "p", MaxRows: 1}, &pgproto3.Sync{})
	if got, err := c.rows(t); err != nil || len(got) != 1 {
		t.Fatalf("first row: %v %v", got, err)
	}
	if err := srv.engine.SetProfiles(map[string]policy.Profile{"readonly": {Name: "readonly", MaxRows: 3}}); err != nil {
		t.Fatal(err)
	}
	c.send(t, &pgproto3.Execute{Portal: "p"}, &pgproto3.Sync{})
	got, err := c.rows(t)
	wantDenial(t, "the rest of a portal bound before max_rows went down to 3", err, policy.RuleRewrite)
	if len(got) > 2 {
		t.Errorf("the portal brought %d more rows past the new max_rows 3", len(got))
	}
	c.send(t, &pgproto3.Query{String: "ROLLBACK"})
	if _, err := c.answer(); err != nil {
		t.Fatal(err)
	}
	c.send(t, &pgproto3.Parse{Query: "SELECT label FROM items ORDER BY id"},
		&pgproto3.Bind{}, &pgproto3.Execute{}, &pgproto3.Sync{})
	if got, err := c.rows(t); err != nil || len(got) != 3 {
		t.Errorf("a new portal under max_rows 3: %d rows, %v", len(got), err)
	}
}
