package proxy

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
)

// BenchmarkPointSelect measures one indexed point SELECT per op, through
// the proxy and directly, in the protocol modes pgbench uses. Run with
// -cpu to vary parallel clients:
//
//	go test -run XXX -bench PointSelect -cpu 1,4,16 ./proxy
func BenchmarkPointSelect(b *testing.B) {
	f := newBenchFixture(b)
	targets := map[string]string{"direct": cluster.DSNFor("proxy_reader", "reader-pw", f.db), "pgmoat": f.dsn("alice")}
	modes := map[string]pgx.QueryExecMode{
		"simple":   pgx.QueryExecModeSimpleProtocol,
		"extended": pgx.QueryExecModeExec,
		"prepared": pgx.QueryExecModeCacheStatement,
	}
	for _, target := range []string{"direct", "pgmoat"} {
		for _, mode := range []string{"simple", "extended", "prepared"} {
			b.Run(target+"/"+mode, func(b *testing.B) {
				cfg, err := pgx.ParseConfig(targets[target])
				if err != nil {
					b.Fatal(err)
				}
				cfg.DefaultQueryExecMode = modes[mode]
				cfg.RuntimeParams["request.user_id"] = "1" // direct connections see alice's rows too
				b.RunParallel(func(pb *testing.PB) {
					ctx := context.Background()
					conn, err := pgx.ConnectConfig(ctx, cfg)
					if err != nil {
						b.Error(err)
						return
					}
					defer conn.Close(ctx)
					id := 0
					for pb.Next() {
						id = id%100 + 1
						var label string
						err := conn.QueryRow(ctx, "SELECT label FROM items WHERE id = $1", id).Scan(&label)
						if err != nil && err != pgx.ErrNoRows {
							b.Error(err)
							return
						}
					}
				})
			})
		}
	}
}

func newBenchFixture(b *testing.B) *proxyFixture {
	return newFixture(b, fixtureOptions{poolMax: 20})
}
