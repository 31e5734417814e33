package proxy

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgmoat/pgmoat/policy"
)

func TestExecutorRunsUnderTheCallersIdentity(t *testing.T) {
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
