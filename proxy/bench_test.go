package proxy

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgproto3"
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

// BenchmarkClientReaderBatch decodes the client's side of one pgbench -S
// -M extended transaction (Parse, Bind, Describe, Execute, Sync), the
// per-message path a session runs before anything reaches a backend, in
// memory: framing and decoding alone, through the session's clientReader
// and, for comparison, through pgproto3.Backend. Both allocate only what
// the messages' Decode methods do (the Parse's strings, the Bind's
// slices).
func BenchmarkClientReaderBatch(b *testing.B) {
	var batch []byte
	for _, m := range []pgproto3.FrontendMessage{
		&pgproto3.Parse{Query: "SELECT abalance FROM pgbench_accounts WHERE aid = $1"},
		&pgproto3.Bind{Parameters: [][]byte{[]byte("42")}},
		&pgproto3.Describe{ObjectType: 'P'},
		&pgproto3.Execute{},
		&pgproto3.Sync{},
	} {
		batch, _ = m.Encode(batch)
	}
	readers := map[string]interface {
		Receive() (pgproto3.FrontendMessage, error)
	}{
		"clientReader": newClientReader(&repeatReader{data: batch}, newReadPools(), 1<<20),
		"pgproto3":     pgproto3.NewBackend(&repeatReader{data: batch}, nil),
	}
	for _, name := range []string{"clientReader", "pgproto3"} {
		b.Run(name, func(b *testing.B) {
			r := readers[name]
			b.SetBytes(int64(len(batch)))
			b.ReportAllocs()
			for b.Loop() {
				for range 5 {
					if _, err := r.Receive(); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

// repeatReader returns data whole on every Read, as a client sending the
// same batch again and again would.
type repeatReader struct{ data []byte }

func (r *repeatReader) Read(p []byte) (int, error) { return copy(p, r.data), nil }
