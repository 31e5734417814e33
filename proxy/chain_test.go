package proxy

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/pgmoat/pgmoat/integration/pgbouncer"
	"github.com/pgmoat/pgmoat/policy"
)

// behindBouncer serves f's database through PgBouncer in transaction
// mode, where nothing of a session survives a transaction.
func behindBouncer(t *testing.T, f *proxyFixture) *proxyFixture {
	t.Helper()
	bouncer, err := pgbouncer.Start(context.Background(), pgbouncer.Options{
		ServerHost: cluster.Host(), ServerPort: cluster.Port(), Database: f.db,
		User: "proxy_reader", Password: "reader-pw", PoolSize: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bouncer.Close() })
	pool, err := NewPool(PoolConfig{DSN: bouncer.DSN("proxy_reader", "reader-pw", f.db), Min: 1, Max: 2, BehindPooler: true})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := NewServer(Config{Engine: f.server.engine, Pool: pool, Users: map[string]User{
		"alice": {Password: "alice", Identity: policy.Identity{UserID: "1", Profile: "readonly"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return &proxyFixture{db: f.db, pool: pool, server: srv, addr: serveOn(t, srv)}
}

// rows reads up to ReadyForQuery and returns the DataRows' text values
// and the SQLSTATEs of any errors.
func rows(t *testing.T, fe *pgproto3.Frontend) (out [][]string, errs []string) {
	t.Helper()
	for {
		msg, err := fe.Receive()
		if err != nil {
			t.Fatal(err)
		}
		switch m := msg.(type) {
		case *pgproto3.DataRow:
			var row []string
			for _, v := range m.Values {
				row = append(row, string(v))
			}
			out = append(out, row)
		case *pgproto3.ErrorResponse:
			errs = append(errs, m.Code+" "+m.Message)
		case *pgproto3.ReadyForQuery:
			return out, errs
		}
	}
}

const qInForce = "SELECT current_setting('request.user_id', true), current_setting('statement_timeout'), current_setting('transaction_read_only')"

func simple(fe *pgproto3.Frontend, sql string) {
	fe.Send(&pgproto3.Query{String: sql})
}

func extended(fe *pgproto3.Frontend, sql string) {
	fe.Send(&pgproto3.Parse{Query: sql})
	fe.Send(&pgproto3.Bind{})
	fe.Send(&pgproto3.Execute{})
}

// TestTransactionsStartedByCommitCarryTheIdentity: pgmoat set the
// identity, timeout and read-only flag when a transaction started at
// the start of a batch; COMMIT AND CHAIN (or ROLLBACK AND CHAIN) starts
// one without a new batch, and so does any statement after a COMMIT in
// the same extended batch. Behind a transaction-mode pooler, where only
// what a transaction sets for itself holds, such a transaction ran with
// no user id and no statement_timeout at all.
func TestTransactionsStartedByCommitCarryTheIdentity(t *testing.T) {
	t.Parallel()
	direct := newFixture(t, fixtureOptions{})
	for name, f := range map[string]*proxyFixture{"direct": direct, "behind pgbouncer": behindBouncer(t, direct)} {
		t.Run(name, func(t *testing.T) {
			for _, c := range []struct {
				name  string
				steps func(fe *pgproto3.Frontend) // ends with a Query or Sync whose answer holds the row
			}{
				{"COMMIT AND CHAIN", func(fe *pgproto3.Frontend) {
					simple(fe, "BEGIN")
					simple(fe, "COMMIT AND CHAIN")
					simple(fe, qInForce)
				}},
				{"ROLLBACK AND CHAIN", func(fe *pgproto3.Frontend) {
					simple(fe, "BEGIN")
					simple(fe, "ROLLBACK AND CHAIN")
					simple(fe, qInForce)
				}},
				{"COMMIT inside a batch", func(fe *pgproto3.Frontend) {
					extended(fe, "COMMIT")
					extended(fe, qInForce)
					fe.Send(&pgproto3.Sync{})
				}},
				{"BEGIN, COMMIT AND CHAIN inside a batch", func(fe *pgproto3.Frontend) {
					extended(fe, "BEGIN")
					extended(fe, "COMMIT AND CHAIN")
					extended(fe, qInForce)
					fe.Send(&pgproto3.Sync{})
				}},
			} {
				t.Run(c.name, func(t *testing.T) {
					fe := rawSession(t, f, "alice")
					c.steps(fe)
					simple(fe, "ROLLBACK")
					if err := fe.Flush(); err != nil {
						t.Fatal(err)
					}
					var got [][]string
					for {
						out, errs := rows(t, fe)
						if len(errs) > 0 {
							t.Fatalf("errors: %v", errs)
						}
						got = append(got, out...)
						if len(got) > 0 {
							break
						}
					}
					if want := []string{"1", "5s", "on"}; len(got) != 1 || len(got[0]) != 3 || got[0][0] != want[0] || got[0][1] != want[1] || got[0][2] != want[2] {
						t.Fatalf("user id, statement_timeout, transaction_read_only: %v, want %v", got, want)
					}
					rows(t, fe) // the ROLLBACK
				})
			}
		})
	}
}
