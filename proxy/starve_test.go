package proxy

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgmoat/pgmoat/policy"
)

// waitUntil polls cond until it holds, failing the test after limit.
func waitUntil(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Twenty clients of one user that open a transaction and go quiet take
// at most their identity's share of a pool of twenty: another user and
// an MCP call of another identity are served at once, the same user's
// MCP call waits for its own share, and once the idle timeout passes the
// idle clients are told (25P03) and their backends serve others clean.
func TestIdleTransactionsOfOneUserDoNotStarveOthers(t *testing.T) {
	t.Parallel()
	// Long enough that twenty BEGINs and the checks below finish first on
	// a loaded two-core machine under -race, beside the package's other
	// tests.
	const idle = 10 * time.Second
	// The pool starts full, so the BEGINs below wait on the per-identity
	// cap alone, not on twenty logins racing the acquire timeout.
	f := newFixture(t, fixtureOptions{poolMin: 20, poolMax: 20, acquireTimeout: 300 * time.Millisecond, idleTxTimeout: idle})
	ctx := context.Background()
	capN := f.pool.Config().MaxPerIdentity
	if capN != 15 {
		t.Fatalf("default per-identity cap of a pool of 20 = %d, want 15", capN)
	}

	alice := make([]*pgx.Conn, 20)
	for i := range alice {
		alice[i] = f.connect(t, "alice", pgx.QueryExecModeSimpleProtocol)
	}
	began := time.Now()
	var mu sync.Mutex
	var open []*pgx.Conn
	var capped []error
	var wg sync.WaitGroup
	for _, c := range alice {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.Exec(ctx, "BEGIN")
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				capped = append(capped, err)
			} else {
				open = append(open, c)
			}
		}()
	}
	wg.Wait()
	if len(open) != capN || len(capped) != 20-capN {
		t.Fatalf("%d transactions opened and %d refused, want %d and %d", len(open), len(capped), capN, 20-capN)
	}
	for _, err := range capped {
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "53300" || !strings.HasPrefix(pgErr.Message, "pgmoat: pool.max_per_identity:") ||
			!strings.Contains(pgErr.Message, "backend.pool.max_per_identity") {
			t.Fatalf("over the cap: want 53300 pgmoat: pool.max_per_identity naming the key, got %v", err)
		}
	}

	// Others are not starved, through either door.
	bob := f.connect(t, "bob", pgx.QueryExecModeCacheStatement)
	var n int
	if err := bob.QueryRow(ctx, "SELECT count(*) FROM items").Scan(&n); err != nil || n != 50 {
		t.Fatalf("bob starved: %d rows, %v", n, err)
	}
	x := NewExecutor(f.pool, f.server.engine, "")
	if _, err := x.Query(ctx, policy.Identity{UserID: "2", Profile: "readonly"}, "SELECT id FROM items WHERE id = $1", 2); err != nil {
		t.Fatalf("an MCP call of bob starved: %v", err)
	}
	// MCP lendings count against the same cap.
	_, err := x.Query(ctx, policy.Identity{UserID: "1", Profile: "readonly"}, "SELECT id FROM items WHERE id = $1", 1)
	if time.Since(began) >= idle {
		t.Fatalf("the set-up took %v, longer than the idle timeout; the rest proves nothing", time.Since(began))
	}
	var capErr *IdentityCapError
	if !errors.As(err, &capErr) || !errors.Is(err, ErrPoolExhausted) {
		t.Fatalf("an MCP call of alice past her cap: want IdentityCapError, got %v", err)
	}

	// The idle ones are ended after the timeout, and their backends come
	// back clean.
	closed := f.pool.Stats().Closed
	waitUntil(t, 3*idle, "the idle transactions to be rolled back", func() bool { return f.pool.Stats().InUse == 0 })
	if st := f.pool.Stats(); st.Closed != closed {
		t.Fatalf("backends were closed instead of reused: %+v", st)
	}
	for _, c := range open {
		_, err := c.Exec(ctx, "SELECT 1")
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "25P03" || pgErr.Severity != "FATAL" ||
			!strings.HasPrefix(pgErr.Message, "pgmoat: transaction.idle_timeout:") || !strings.Contains(pgErr.Message, "COMMIT or ROLLBACK") {
			t.Fatalf("an idle transaction: want FATAL 25P03 pgmoat: transaction.idle_timeout, got %v", err)
		}
	}
	if time.Since(began) < idle {
		t.Fatalf("transactions were ended before the idle timeout (%v)", time.Since(began))
	}
	// The freed backends serve alice again, none of them a new one.
	created := f.pool.Stats().Created
	for range capN {
		c := f.connect(t, "alice", pgx.QueryExecModeSimpleProtocol)
		if _, err := c.Exec(ctx, "BEGIN"); err != nil {
			t.Fatalf("alice after the timeout: %v", err)
		}
		if _, err := c.Exec(ctx, "SELECT count(*) FROM items"); err != nil {
			t.Fatalf("alice after the timeout: %v", err)
		}
	}
	if st := f.pool.Stats(); st.Created != created || st.Closed != closed {
		t.Fatalf("the timed-out transactions' backends were not reused: %+v (created before %d)", st, created)
	}
}

// A client that is busy is never cut off, however long its transaction:
// only waiting for the client counts, a statement running longer than
// the timeout does not, and each message starts the wait afresh.
func TestIdleTimeoutSparesActiveTransactions(t *testing.T) {
	// Not parallel: the client "thinks" for a third of a 300 ms timeout
	// between messages, a margin the load of other tests could eat.
	const idle = 300 * time.Millisecond
	f := newFixture(t, fixtureOptions{idleTxTimeout: idle, timeout: time.Minute})
	ctx := context.Background()
	c := f.connect(t, "alice", pgx.QueryExecModeCacheStatement)
	tx, err := c.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := tx.Exec(ctx, "SELECT count(*) FROM generate_series(1, 3000000)"); err != nil {
		t.Fatalf("a running statement was ended: %v", err)
	}
	if took := time.Since(start); took < idle {
		t.Fatalf("the long statement took only %v, not longer than the idle timeout", took)
	}
	end := time.Now().Add(3 * idle)
	for time.Now().Before(end) {
		time.Sleep(idle / 3) // the client thinking, shorter than the timeout
		if _, err := tx.Exec(ctx, "SELECT 1"); err != nil {
			t.Fatalf("a transaction with short pauses was ended: %v", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
}
