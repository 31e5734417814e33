package proxy

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/pgmoat/pgmoat/policy"
)

// superuser connects to the fixture's database as the cluster's
// superuser, behind pgmoat's back.
func superuser(t *testing.T, f *proxyFixture) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), cluster.DSN(f.db))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// rawOnLent runs sql as a simple Query directly on the backend lent to
// the session whose cancel-key pid is pid, behind pgmoat's back, as a
// hole in the policy would, and returns the first column of each row.
// The session must be between statements in an open transaction: its
// goroutine waits for its client and, until the client's next message,
// does not touch the backend. The wait's start (idleSince, stored after
// the session's last use of the backend) orders that use before this
// one, and a write of the same value after orders this one before the
// session's next (it takes idleSince back when its read returns).
func (s *Server) rawOnLent(pid uint32, sql string) ([]string, error) {
	s.mu.Lock()
	sess := s.sessions[pid]
	s.mu.Unlock()
	if sess == nil {
		return nil, errors.New("no such session")
	}
	since := sess.idleSince.Load()
	for deadline := time.Now().Add(5 * time.Second); since <= 0; since = sess.idleSince.Load() {
		if time.Now().After(deadline) {
			return nil, errors.New("the session is not waiting for its client with a backend")
		}
		runtime.Gosched()
	}
	defer sess.idleSince.CompareAndSwap(since, since)
	bk := sess.held.Load()
	if bk == nil {
		return nil, errors.New("the session holds no backend")
	}
	if err := bk.sendAll(&pgproto3.Query{String: sql}); err != nil {
		return nil, err
	}
	var out []string
	err := bk.untilReady(func(typ byte, body []byte) error {
		if typ != 'D' {
			return nil
		}
		var dr pgproto3.DataRow
		if err := dr.Decode(body); err != nil {
			return err
		}
		out = append(out, string(dr.Values[0]))
		return nil
	})
	return out, err
}

// inForce is what a borrower's statements run with.
type inForce struct{ uid, timeout, readOnly, path string }

func (f inForce) sansPath() inForce { f.path = ""; return f }

const inForceSQL = "SELECT current_setting('request.user_id'), current_setting('statement_timeout'), current_setting('transaction_read_only'), current_setting('search_path')"

func readInForce(t *testing.T, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}) inForce {
	t.Helper()
	var got inForce
	if err := q.QueryRow(context.Background(), inForceSQL).Scan(&got.uid, &got.timeout, &got.readOnly, &got.path); err != nil {
		t.Fatal(err)
	}
	return got
}

// tamper opens a transaction on conn and changes its backend's session
// behind pgmoat's back, as a hole in the policy would, then commits.
func tamper(t *testing.T, f *proxyFixture, conn *pgx.Conn) {
	t.Helper()
	ctx := context.Background()
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "SELECT 1"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.server.rawOnLent(conn.PgConn().PID(), `SET statement_timeout = 0;
SELECT pg_catalog.set_config('request.user_id', '2', false);
SET default_transaction_read_only = off;
SET search_path = pg_catalog;
SELECT pg_catalog.pg_advisory_lock(42);
LISTEN leftover;
PREPARE leftover AS SELECT 'secret of user 1'`); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestLeftoverStateNeverReachesTheNextBorrower changes a lent backend's
// session behind pgmoat's back and checks that every later transaction,
// of the same identity or another, through the proxy or the Executor,
// runs with its own identity, timeout, read-only flag and search_path,
// and that another identity finds no lock, LISTEN or prepared statement
// left.
func TestLeftoverStateNeverReachesTheNextBorrower(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{poolMax: 1}) // one backend: every borrower gets the tampered one
	ctx := context.Background()
	su := superuser(t, f)
	advisoryLocks := func() int {
		var n int
		if err := su.QueryRow(ctx, "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database WHERE l.locktype = 'advisory' AND d.datname = current_database()").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	alice := inForce{"1", "5s", "on", `"public"`}
	bob := inForce{"2", "5s", "on", `"public"`}
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeSimpleProtocol, pgx.QueryExecModeCacheStatement} {
		t.Run(mode.String(), func(t *testing.T) {
			a := f.connect(t, "alice", mode)
			tamper(t, f, a)
			if advisoryLocks() != 1 {
				t.Fatal("the tampering took no advisory lock")
			}
			// The same identity's next transactions, implicit and explicit,
			// run with their identity, timeout and read-only flag; the
			// session's search_path is the borrower's own business until
			// another identity borrows the backend.
			if got := readInForce(t, a); got.sansPath() != alice.sansPath() {
				t.Fatalf("alice's next statement runs with %+v, want %+v", got, alice)
			}
			tx, err := a.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if got := readInForce(t, tx); got.sansPath() != alice.sansPath() {
				t.Fatalf("alice's next transaction runs with %+v, want %+v", got, alice)
			}
			if err := tx.Commit(ctx); err != nil {
				t.Fatal(err)
			}
			// SHOW SERVERS says what the transactions set for themselves.
			if out := f.console(t, "dba", "SHOW SERVERS;"); !strings.Contains(out, "|idle|1|5000|") {
				t.Fatalf("SHOW SERVERS after alice:\n%s", out)
			}
			// Another identity.
			b := f.connect(t, "bob", mode)
			if got := readInForce(t, b); got != bob {
				t.Fatalf("bob runs with %+v, want %+v", got, bob)
			}
			if n := advisoryLocks(); n != 0 {
				t.Fatalf("%d advisory locks left for bob", n)
			}
			tx, err = b.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tx.Exec(ctx, "SELECT 1"); err != nil {
				t.Fatal(err)
			}
			for q, want := range map[string]string{
				"SELECT count(*) FROM pg_catalog.pg_listening_channels()":                        "0",
				"SELECT count(*) FROM pg_catalog.pg_prepared_statements WHERE name = 'leftover'": "0",
				"SELECT pg_catalog.current_setting('default_transaction_read_only')":             "on",
				"SELECT pg_catalog.current_setting('statement_timeout')":                         "5s",
			} {
				got, err := f.server.rawOnLent(b.PgConn().PID(), q)
				if err != nil || len(got) != 1 || got[0] != want {
					t.Fatalf("%s on bob's backend: %v, %v; want %s", q, got, err, want)
				}
			}
			if err := tx.Commit(ctx); err != nil {
				t.Fatal(err)
			}
			if out := f.console(t, "dba", "SHOW SERVERS;"); !strings.Contains(out, "|idle|2|5000|") {
				t.Fatalf("SHOW SERVERS after bob:\n%s", out)
			}
			// The Executor after bob's backend was tampered with.
			tamper(t, f, b)
			x := NewExecutor(f.pool, f.server.engine, "")
			for _, id := range []struct {
				policy policyIdentity
				want   inForce
			}{{policyIdentity{"2", "readonly"}, bob}, {policyIdentity{"3", "patient"}, inForce{"3", "7s", "on", `"public"`}}} {
				res, err := x.Query(ctx, id.policy.identity(), inForceSQL)
				if err != nil {
					t.Fatal(err)
				}
				row := res.Rows[0]
				got := inForce{row[0].(string), row[1].(string), row[2].(string), row[3].(string)}
				if id.policy.userID == "2" { // bob's own identity: his search_path is his own
					got, id.want = got.sansPath(), id.want.sansPath()
				}
				if got != id.want {
					t.Fatalf("Executor as %+v runs with %+v, want %+v", id.policy, got, id.want)
				}
			}
			if n := advisoryLocks(); n != 0 {
				t.Fatalf("%d advisory locks left after another identity borrowed through the Executor", n)
			}
		})
	}
}

type policyIdentity struct{ userID, profile string }

func (p policyIdentity) identity() policy.Identity {
	return policy.Identity{UserID: p.userID, Profile: p.profile}
}
