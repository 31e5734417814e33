package proxy

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/pgmoat/pgmoat/policy"
)

func TestExecutorRunsUnderTheCallersIdentity(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{poolMax: 2})
	x := NewExecutor(f.pool, f.server.engine, "")
	ctx := context.Background()
	for _, tc := range []struct {
		userID string
		owner  int64
	}{{"1", 1}, {"2", 2}, {"1", 1}} {
		res, err := x.Query(ctx, policy.Identity{UserID: tc.userID, Profile: "readonly"},
			`SELECT id, owner, label FROM public.items WHERE id = ANY($1) ORDER BY id`, []int32{1, 2, 3, 4})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Rows) != 2 || len(res.Fields) != 3 || res.Fields[2].Name != "label" {
			t.Fatalf("user %s: %d rows, fields %+v", tc.userID, len(res.Rows), res.Fields)
		}
		for _, row := range res.Rows {
			if row[1].(int32) != int32(tc.owner) {
				t.Fatalf("user %s got a row of owner %v", tc.userID, row[1])
			}
		}
	}
}

func TestExecutorDeniesAndReportsServerErrors(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	x := NewExecutor(f.pool, f.server.engine, "")
	ctx := context.Background()
	id := policy.Identity{UserID: "1", Profile: "readonly"}
	_, err := x.Query(ctx, id, "DELETE FROM items")
	var pe *policy.Error
	if !errors.As(err, &pe) || pe.SQLState != "42501" {
		t.Fatalf("DELETE: %v", err)
	}
	_, err = x.Query(ctx, id, "SELECT 1/$1::int", 0)
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "22012" {
		t.Fatalf("division by zero: %v", err)
	}
	res, err := x.Query(ctx, id, "SELECT count(*) FROM items")
	if err != nil || res.Rows[0][0].(int64) != 50 {
		t.Fatalf("after errors: %v %v", res, err)
	}
}

// TestExecutorKeepsNoMoreThanItsBudget: rows are kept while they fit,
// the first row that does not ends them, and of a first row too large
// the values that alone exceed the budget are left out and named — for
// rows read from memory and rows streamed from the backend alike — while
// the backend stays in step for the next statement.
func TestExecutorKeepsNoMoreThanItsBudget(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{poolMax: 1})
	x := NewExecutor(f.pool, f.server.engine, "")
	ctx := context.Background()
	id := policy.Identity{UserID: "1", Profile: "readonly"}
	const rows = `SELECT i, repeat('x', $1::int) AS body, i * 2 AS twice FROM generate_series(1, 5) i ORDER BY i`
	for _, tc := range []struct {
		name      string
		size      int // bytes of each body
		budget    int
		kept      int
		truncated bool
		cut       bool
	}{
		{"no budget", 1000, 0, 5, false, false},
		{"all fit", 1000, 10_000, 5, false, false},
		{"the budget ends the rows", 1000, 2500, 2, true, false},
		{"a first row too large is cut", 1000, 500, 1, true, true},
		{"a streamed row too large is cut", 300_000, 1000, 1, true, true},
		{"streamed rows end at the budget", 300_000, 700_000, 2, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := x.QueryBudget(ctx, id, tc.budget, rows, tc.size)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Rows) != tc.kept || res.Truncated != tc.truncated || (len(res.Cut) > 0) != tc.cut {
				t.Fatalf("%d rows kept, truncated %v, cut %+v", len(res.Rows), res.Truncated, res.Cut)
			}
			if tc.cut {
				if c := res.Cut[0]; c.Row != 0 || c.Column != 1 || c.Size != tc.size || res.Rows[0][1] != nil || res.Rows[0][2].(int32) != 2 {
					t.Fatalf("cut %+v, row %v", c, res.Rows[0][0])
				}
			} else if s := res.Rows[len(res.Rows)-1][1].(string); len(s) != tc.size {
				t.Fatalf("last body kept has %d bytes", len(s))
			}
			after, err := x.Query(ctx, id, "SELECT count(*) FROM items")
			if err != nil || after.Rows[0][0].(int64) != 50 {
				t.Fatalf("the next statement on the backend: %v %v", after, err)
			}
		})
	}
}

// TestExecutorPlansEachCallForItsValues: the executor's statements are
// prepared once per backend, so past five executions the server would
// switch to a generic plan, made without the call's values (for a lookup
// by a list of ids and a limit, often a scan of the sort index that
// filters the whole table). Every execution must be planned for its own
// values: the server's own counts on the backend show no generic plan.
func TestExecutorPlansEachCallForItsValues(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{poolMax: 1})
	x := NewExecutor(f.pool, f.server.engine, "")
	ctx := context.Background()
	id := policy.Identity{UserID: "1", Profile: "readonly"}
	// A plan that does not depend on the value: left to
	// plan_cache_mode=auto, the server takes the generic one from the
	// sixth execution on.
	const lookup = `SELECT id FROM public.items WHERE id = $1`
	const runs = 8
	for i := range runs {
		if _, err := x.Query(ctx, id, lookup, int32(i+1)); err != nil {
			t.Fatal(err)
		}
	}
	// The only backend, between lendings: read its statements' counts.
	bk, err := f.pool.acquire(ctx, borrower{})
	if err != nil {
		t.Fatal(err)
	}
	defer f.pool.release(bk)
	if err := bk.sendAll(&pgproto3.Query{String: "SELECT generic_plans, custom_plans FROM pg_catalog.pg_prepared_statements WHERE statement LIKE '%items WHERE id = $1%'"}); err != nil {
		t.Fatal(err)
	}
	var counts [][]string
	err = bk.untilReady(func(typ byte, body []byte) error {
		if typ != 'D' {
			return nil
		}
		var row pgproto3.DataRow
		if err := row.Decode(body); err != nil {
			return err
		}
		counts = append(counts, []string{string(row.Values[0]), string(row.Values[1])})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(counts) != 1 {
		t.Fatalf("the lookup is prepared %d times on the only backend, want once", len(counts))
	}
	if want := []string{"0", strconv.Itoa(runs)}; !slices.Equal(counts[0], want) {
		t.Fatalf("%s generic and %s custom plans over %d executions, want %v", counts[0][0], counts[0][1], runs, want)
	}
}
