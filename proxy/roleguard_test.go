package proxy

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/pgmoat/pgmoat/integration/pgcluster"
	"github.com/pgmoat/pgmoat/policy"
)

// TestPoolRefusesUnsafeRole: invariant 8 is the pool's. Its first
// connection refuses a superuser, a BYPASSRLS role and a role that can
// write or owns tables, says why and names the override; the override
// lets it through with one warning; a read-only role passes silently.
func TestPoolRefusesUnsafeRole(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgcluster.NewDatabase(t, cluster)
	admin, err := pgx.Connect(ctx, cluster.DSN(db))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	ensureFixtureRole(t, admin)
	for _, sql := range []string{
		fixtureSQL,
		`DROP ROLE IF EXISTS guard_bypass; CREATE ROLE guard_bypass LOGIN PASSWORD 'pw' BYPASSRLS`,
		`DROP ROLE IF EXISTS guard_sloppy; CREATE ROLE guard_sloppy LOGIN PASSWORD 'pw'`,
		`DROP ROLE IF EXISTS guard_monitor; CREATE ROLE guard_monitor LOGIN PASSWORD 'pw' IN ROLE pg_monitor, pg_read_all_data`,
		`GRANT USAGE, CREATE ON SCHEMA public TO guard_sloppy; GRANT SELECT, INSERT ON items TO guard_sloppy;
		 GRANT pg_read_server_files TO guard_sloppy;
		 CREATE TABLE scratch (x int); ALTER TABLE scratch OWNER TO guard_sloppy`,
	} {
		if _, err := admin.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	t.Cleanup(func() {
		_, _ = admin.Exec(context.Background(), `DROP TABLE scratch; DROP OWNED BY guard_sloppy, guard_bypass; DROP ROLE guard_sloppy, guard_bypass, guard_monitor`)
	})
	for _, tc := range []struct {
		name, dsn string
		want      []string // the checks that must fail; none for a safe role
	}{
		{"superuser", cluster.DSN(db), []string{"role.superuser"}},
		{"bypassrls", cluster.DSNFor("guard_bypass", "pw", db), []string{"role.bypassrls"}},
		{"writer and owner", cluster.DSNFor("guard_sloppy", "pw", db),
			[]string{"role.writes", "role.create_schema", "role.member.pg_read_server_files", "role.owns_tables"}},
		// pg_monitor grants the two below through membership.
		{"monitor", cluster.DSNFor("guard_monitor", "pw", db),
			[]string{"role.member.pg_read_all_data", "role.member.pg_read_all_settings", "role.member.pg_read_all_stats"}},
		{"reader", cluster.DSNFor("proxy_reader", "reader-pw", db), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, allow := range []bool{false, true} {
				var warned atomic.Int32
				pool, err := NewPool(PoolConfig{DSN: tc.dsn, Min: 2, Max: 3, AllowUnsafeRole: allow,
					OnUnsafeRole: func(*UnsafeRoleError) { warned.Add(1) }})
				if err != nil {
					t.Fatal(err)
				}
				werr := pool.Warm(ctx)
				// The pool's other way in refuses too: a borrower never
				// gets a backend the check refused.
				x := NewExecutor(pool, mustEngine(t), "request.user_id")
				_, qerr := x.Query(ctx, policy.Identity{UserID: "1"}, "SELECT 1")
				pool.Close()
				var ue *UnsafeRoleError
				switch {
				case len(tc.want) == 0 || allow:
					if werr != nil || qerr != nil {
						t.Fatalf("allow=%v: Warm: %v, Query: %v", allow, werr, qerr)
					}
					if w := warned.Load(); (w == 1) != (len(tc.want) > 0) {
						t.Errorf("allow=%v: warned %d times", allow, w)
					}
				case !errors.As(werr, &ue) || !errors.As(qerr, &ue):
					t.Fatalf("not refused: Warm: %v, Query: %v", werr, qerr)
				default:
					got := map[string]bool{}
					for _, f := range ue.Problems {
						got[f.Check] = true
					}
					for _, c := range tc.want {
						if !got[c] {
							t.Errorf("refusal misses %s: %v", c, ue)
						}
					}
					if msg := ue.Error(); !strings.HasPrefix(msg, "pgmoat: backend.unsafe_role: ") ||
						!strings.Contains(msg, "--allow-unsafe-backend-role") || !strings.Contains(msg, "backend.allow_unsafe_role") {
						t.Errorf("refusal does not say why or how to override: %s", msg)
					}
				}
			}
		})
	}
}

func mustEngine(t *testing.T) *policy.Engine {
	t.Helper()
	e, err := policy.New(policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return e
}
