package proxy

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgproto3"
)

// Transactions that start inside one flight of client messages, without
// the client waiting for a ReadyForQuery: a simple Query ends the
// implicit transaction of an extended batch sent before it, a ROLLBACK
// or ABORT in an extended batch ends the batch's implicit transaction,
// and pipelined simple Queries are one transaction each. Every one of
// them must run with the identity, timeout and read-only flag, behind a
// transaction-mode pooler too, where nothing else sets them.
func TestRedteamStateTransactionsInOneFlight(t *testing.T) {
	t.Parallel()
	direct := newFixture(t, fixtureOptions{})
	for name, f := range map[string]*proxyFixture{"direct": direct, "behind pgbouncer": behindBouncer(t, direct)} {
		t.Run(name, func(t *testing.T) {
			for _, c := range []struct {
				name    string
				answers int // ReadyForQuery messages the steps get
				steps   func(fe *pgproto3.Frontend)
			}{
				{"Query after an unsynced batch", 2, func(fe *pgproto3.Frontend) {
					extended(fe, "SELECT 1")
					simple(fe, "SELECT 2")
					extended(fe, qInForce)
					fe.Send(&pgproto3.Sync{})
				}},
				{"Query in force after an unsynced batch", 1, func(fe *pgproto3.Frontend) {
					extended(fe, "SELECT 1")
					simple(fe, qInForce)
				}},
				{"ROLLBACK of the batch's implicit transaction", 1, func(fe *pgproto3.Frontend) {
					extended(fe, "SELECT 1")
					extended(fe, "ROLLBACK")
					extended(fe, qInForce)
					fe.Send(&pgproto3.Sync{})
				}},
				{"ABORT of the batch's implicit transaction", 1, func(fe *pgproto3.Frontend) {
					extended(fe, "SELECT 1")
					extended(fe, "ABORT")
					extended(fe, qInForce)
					fe.Send(&pgproto3.Sync{})
				}},
				{"END of a block then the batch goes on", 1, func(fe *pgproto3.Frontend) {
					extended(fe, "BEGIN")
					extended(fe, "END")
					extended(fe, qInForce)
					fe.Send(&pgproto3.Sync{})
				}},
				{"pipelined simple Queries", 3, func(fe *pgproto3.Frontend) {
					simple(fe, "SELECT 1")
					simple(fe, "SELECT 2")
					simple(fe, qInForce)
				}},
				{"COMMIT in a Query inside a block, then a batch", 3, func(fe *pgproto3.Frontend) {
					simple(fe, "BEGIN")
					simple(fe, "COMMIT")
					extended(fe, qInForce)
					fe.Send(&pgproto3.Sync{})
				}},
			} {
				t.Run(c.name, func(t *testing.T) {
					fe := rawSession(t, f, "alice")
					c.steps(fe)
					if err := fe.Flush(); err != nil {
						t.Fatal(err)
					}
					var got [][]string
					for range c.answers {
						out, errs := rows(t, fe)
						if len(errs) > 0 {
							t.Fatalf("errors: %v", errs)
						}
						for _, r := range out {
							if len(r) == 3 {
								got = append(got, r)
							}
						}
					}
					if want := []string{"1", "5s", "on"}; len(got) != 1 || got[0][0] != want[0] || got[0][1] != want[1] || got[0][2] != want[2] {
						t.Fatalf("user id, statement_timeout, transaction_read_only: %v, want %v", got, want)
					}
				})
			}
		})
	}
}

// A statement another client left on the only backend, the unnamed one
// or a named one under the name it used, is not this client's: a Bind
// of it without its own Parse fails as PostgreSQL fails a Bind of a
// statement the session never prepared (26000), for a client of the
// same identity (which shares the backend without DISCARD ALL) and of
// another, and returns none of the other's text.
func TestRedteamStateAnotherClientsStatementIsNotBound(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{poolMax: 1})
	owner := rawSession(t, f, "alice")
	owner.Send(&pgproto3.Parse{Query: "SELECT 'alice-unnamed'"})
	owner.Send(&pgproto3.Parse{Name: "s", Query: "SELECT 'alice-named'"})
	owner.Send(&pgproto3.Sync{})
	if err := owner.Flush(); err != nil {
		t.Fatal(err)
	}
	if _, errs := rows(t, owner); len(errs) != 0 {
		t.Fatal(errs)
	}
	for _, user := range []string{"alice", "bob"} {
		for _, name := range []string{"", "s"} {
			fe := rawSession(t, f, user)
			fe.Send(&pgproto3.Bind{PreparedStatement: name})
			fe.Send(&pgproto3.Execute{})
			fe.Send(&pgproto3.Sync{})
			if err := fe.Flush(); err != nil {
				t.Fatal(err)
			}
			got, errs := rows(t, fe)
			if len(got) != 0 || len(errs) != 1 || !strings.HasPrefix(errs[0], "26000 ") {
				t.Errorf("%s binds statement %q: rows %v, errors %v; want 26000 alone", user, name, got, errs)
			}
		}
	}
	// The owner's own are still there for it.
	owner.Send(&pgproto3.Bind{PreparedStatement: "s"})
	owner.Send(&pgproto3.Execute{})
	owner.Send(&pgproto3.Sync{})
	if err := owner.Flush(); err != nil {
		t.Fatal(err)
	}
	if got, errs := rows(t, owner); len(errs) != 0 || len(got) != 1 || got[0][0] != "alice-named" {
		t.Errorf("owner binds its own: %v %v", got, errs)
	}
}

// sessionStateSQL reads what a backend session keeps beyond its
// transaction, as PostgreSQL shows it to the session itself: settings
// not at their default (the transaction's own included, the same for
// every borrower), the user id (a placeholder setting pg_settings does
// not list), holdable cursors, LISTEN channels, advisory locks and
// temporary relations.
const sessionStateSQL = `SELECT x FROM (
  SELECT 'setting ' || name || '=' || setting || ' (' || source || ')' AS x FROM pg_catalog.pg_settings
  WHERE source NOT IN ('default', 'override', 'configuration file', 'environment variable', 'command line')
  UNION ALL SELECT 'user id ' || coalesce(pg_catalog.current_setting('request.user_id', true), '<none>')
  UNION ALL SELECT 'cursor ' || name FROM pg_catalog.pg_cursors WHERE is_holdable
  UNION ALL SELECT 'listen ' || c FROM pg_catalog.pg_listening_channels() c
  UNION ALL SELECT 'lock ' || locktype || ' ' || objid FROM pg_catalog.pg_locks WHERE pid = pg_catalog.pg_backend_pid() AND locktype = 'advisory'
  UNION ALL SELECT 'temp ' || relname FROM pg_catalog.pg_class WHERE relnamespace = pg_catalog.pg_my_temp_schema()
) s ORDER BY x`

// stateOfTheOnlyBackend is sessionStateSQL on the pool's only backend,
// lent to a new client of user in an open transaction.
func stateOfTheOnlyBackend(t *testing.T, f *proxyFixture, user string) []string {
	t.Helper()
	ctx := context.Background()
	conn := f.connect(t, user, pgx.QueryExecModeSimpleProtocol)
	defer conn.Close(ctx)
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "SELECT 1"); err != nil {
		t.Fatal(err)
	}
	state, err := f.server.rawOnLent(conn.PgConn().PID(), sessionStateSQL)
	if err != nil {
		t.Fatal(err)
	}
	return state
}

// A client of one identity that uses everything the readonly profile
// allows (every client setting, in both protocols, in batches that fail
// or turn into blocks, COMMIT AND CHAIN, a suspended portal in a block
// it hangs up inside, a cancelled statement, denied statements of every
// stateful kind) leaves the only backend's session as it found it: the
// next client of the same identity, which gets it without DISCARD ALL,
// finds the same settings, cursors, channels, locks and temporary
// relations as before.
func TestRedteamStateNothingOutlivesTheLending(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{poolMax: 1})
	before := stateOfTheOnlyBackend(t, f, "alice")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	a := f.connect(t, "alice", pgx.QueryExecModeSimpleProtocol)
	for _, sql := range []string{
		"SET application_name = 'leftover'", "SET TimeZone = 'Asia/Tokyo'", "SET DateStyle = 'SQL, DMY'",
		"SET IntervalStyle = 'iso_8601'", "SET extra_float_digits = 1", "SET client_min_messages = 'error'",
		"SET bytea_output = 'escape'", "SET TIME ZONE 'Europe/Paris'", "SET TimeZone = 'No/Such_Zone'",
		"BEGIN", "SELECT 1", "COMMIT AND CHAIN", "SELECT 2", "ROLLBACK AND CHAIN", "ROLLBACK",
		"SET search_path = pg_temp", "SELECT set_config('request.user_id', '2', false)",
		"DECLARE c CURSOR WITH HOLD FOR SELECT 1", "LISTEN leftover", "SELECT pg_advisory_lock(7)",
		"CREATE TEMP TABLE leftover (x int)", "PREPARE p AS SELECT 1", "LOCK items", "DISCARD ALL",
		"DEALLOCATE ALL", "RESET application_name",
	} {
		_, _ = a.Exec(ctx, sql)
	}
	ext := f.connect(t, "alice", pgx.QueryExecModeCacheStatement)
	for _, sql := range []string{"SET DateStyle = 'German'", "SET application_name = 'ext'", "SELECT $1::int"} {
		_, _ = ext.Exec(ctx, sql, 1)
	}
	// A statement cancelled mid-run: pgx sends a cancel request when the
	// context ends.
	short, stop := context.WithTimeout(ctx, 300*time.Millisecond)
	_, _ = ext.Exec(short, "SELECT count(*) FROM generate_series(1, 100000000)")
	stop()
	ext.Close(ctx)

	// Batches that fail or turn into blocks, then a hang-up inside a
	// block holding a suspended portal.
	fe := rawSession(t, f, "alice")
	fe.Send(&pgproto3.Parse{Query: "SET TimeZone = 'Asia/Tokyo'"})
	fe.Send(&pgproto3.Bind{})
	fe.Send(&pgproto3.Execute{})
	extended(fe, "SELECT 1/0")
	fe.Send(&pgproto3.Sync{})
	fe.Send(&pgproto3.Parse{Query: "SET IntervalStyle = 'sql_standard'"})
	fe.Send(&pgproto3.Bind{})
	fe.Send(&pgproto3.Execute{})
	extended(fe, "BEGIN")
	fe.Send(&pgproto3.Sync{})
	fe.Send(&pgproto3.Parse{Name: "g", Query: "SELECT generate_series(1, 10)"})
	fe.Send(&pgproto3.Bind{DestinationPortal: "held", PreparedStatement: "g"})
	fe.Send(&pgproto3.Execute{Portal: "held", MaxRows: 1})
	fe.Send(&pgproto3.Sync{})
	if err := fe.Flush(); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		rows(t, fe)
	}
	_ = a.Close(ctx)
	fe.Send(&pgproto3.Terminate{})
	_ = fe.Flush()

	// The next client waits for the only backend until the hung-up
	// session has handed it back.
	if after := stateOfTheOnlyBackend(t, f, "alice"); !slices.Equal(after, before) {
		t.Errorf("the only backend's session after the lending:\n%s\nbefore it:\n%s", strings.Join(after, "\n"), strings.Join(before, "\n"))
	}
	t.Logf("session state before and after:\n%s", strings.Join(before, "\n"))
}
