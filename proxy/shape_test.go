package proxy

import (
	"context"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

// TestSimpleQueriesUseShapeCache: simple-protocol texts that differ only
// in a literal are judged through the policy's shape cache, and each still
// gets its own rows (the literal spliced into the rewrite is its own).
func TestSimpleQueriesUseShapeCache(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{poolMax: 1})
	ctx := context.Background()
	pc, err := pgconn.Connect(ctx, f.dsn("bob"))
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close(ctx)
	before := f.server.engine.CacheStats().ShapeHits
	for i := 1; i < 40; i += 2 { // bob (user 2) sees the odd ids
		res, err := pc.Exec(ctx, fmt.Sprintf("SELECT label FROM items WHERE id = %d", i)).ReadAll()
		if err != nil {
			t.Fatalf("id %d: %v", i, err)
		}
		if len(res) != 1 || len(res[0].Rows) != 1 || string(res[0].Rows[0][0]) != fmt.Sprintf("item %d", i) {
			t.Fatalf("id %d answered %+v", i, res)
		}
	}
	if hits := f.server.engine.CacheStats().ShapeHits - before; hits < 15 {
		t.Fatalf("%d of 20 texts answered from the shape cache, want at least 15", hits)
	}
}
