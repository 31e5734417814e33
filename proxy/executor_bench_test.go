package proxy

import (
	"context"
	"testing"

	"github.com/pgmoat/pgmoat/policy"
)

// BenchmarkExecutorQuery is one MCP-sized statement through the
// executor: a 50-row page of four typed columns (the types of an orders
// page: bigint, text, numeric, timestamptz) under the caller's identity,
// on a backend it has prepared the statement on.
func BenchmarkExecutorQuery(b *testing.B) {
	f := newFixture(b, fixtureOptions{poolMax: 1})
	x := NewExecutor(f.pool, f.server.engine, "")
	ctx := context.Background()
	id := policy.Identity{UserID: "1", Profile: "readonly"}
	const page = `SELECT i::int8 AS id, 'delivered' AS status, (i * 1.25)::numeric(12,2) AS total, ` +
		`timestamptz '2025-01-01 00:00:00+00' + i * interval '1 hour' AS created_at FROM generate_series(1, $1::int) i`
	b.ReportAllocs()
	for b.Loop() {
		res, err := x.QueryBudget(ctx, id, 128<<10, page, 50)
		if err != nil || len(res.Rows) != 50 {
			b.Fatalf("%v: %v", res, err)
		}
	}
}
