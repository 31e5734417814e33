package proxy

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgmoat/pgmoat/policy"
)

// TestPreparedStatementsAreJudgedAgainAfterTheRulesChange prepares
// statements, swaps the profiles as RELOAD does (deny_relations gains
// the table they read), and binds them again: each Bind is refused with
// the rule that now fires, and the session stays usable. When the rule
// goes away again the same prepared statements run.
func TestPreparedStatementsAreJudgedAgainAfterTheRulesChange(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	ctx := context.Background()
	engine := f.server.engine
	profiles := func(deny ...string) map[string]policy.Profile {
		return map[string]policy.Profile{
			"readonly": {Name: "readonly", DenyRelations: deny},
			"patient":  {Name: "patient", StatementTimeout: 7 * time.Second},
		}
	}
	const byID = "SELECT label FROM items WHERE id = $1"
	const count = "SELECT count(*) FROM items"
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeCacheStatement, pgx.QueryExecModeCacheDescribe} {
		t.Run(mode.String(), func(t *testing.T) {
			if err := engine.SetProfiles(profiles()); err != nil {
				t.Fatal(err)
			}
			conn := f.connect(t, "alice", mode)
			if _, err := conn.Prepare(ctx, "by_id", byID); err != nil {
				t.Fatal(err)
			}
			var label string
			if err := conn.QueryRow(ctx, "by_id", 2).Scan(&label); err != nil {
				t.Fatal(err)
			}
			var n int
			if err := conn.QueryRow(ctx, count).Scan(&n); err != nil { // cached by pgx: prepared, or unnamed
				t.Fatal(err)
			}
			if err := engine.SetProfiles(profiles("public.items")); err != nil {
				t.Fatal(err)
			}
			for _, q := range []string{"by_id", count} {
				var args []any
				if q == "by_id" {
					args = []any{2}
				}
				var got string
				err := conn.QueryRow(ctx, q, args...).Scan(&got)
				var pgErr *pgconn.PgError
				if !errors.As(err, &pgErr) || pgErr.Code != "42501" || !strings.HasPrefix(pgErr.Message, "pgmoat: "+policy.RuleRelation+":") {
					t.Fatalf("%s after deny_relations gained items: want 42501 %s, got %v (%q)", q, policy.RuleRelation, err, got)
				}
			}
			if err := conn.QueryRow(ctx, "SELECT 1").Scan(&n); err != nil || n != 1 {
				t.Fatalf("session unusable after the refusal: %v", err)
			}
			if err := engine.SetProfiles(profiles()); err != nil {
				t.Fatal(err)
			}
			if err := conn.QueryRow(ctx, "by_id", 2).Scan(&label); err != nil {
				t.Fatalf("by_id once items is readable again: %v", err)
			}
		})
	}
}
