package proxy

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
)

// A cancel request is for one lending of a backend. One that comes after
// the borrower handed the backend back (it read the backend while its
// statement ran, the statement ended, the backend went to someone else)
// must not cancel the next borrower's statement (invariant 6); one for
// the current lending still cancels.
func TestCancelForAnEndedLendingIsNotSent(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{poolMax: 1})
	ctx, done := context.WithTimeout(context.Background(), 30*time.Second)
	defer done()
	first, err := f.pool.acquire(ctx, borrower{})
	if err != nil {
		t.Fatal(err)
	}
	ended := first.lending.Load()
	f.pool.release(first)
	next, err := f.pool.acquire(ctx, borrower{})
	if err != nil {
		t.Fatal(err)
	}
	defer f.pool.release(next)
	if next != first {
		t.Fatal("a pool of one lent another backend")
	}
	admin, err := pgx.Connect(ctx, cluster.DSN(f.db))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	sleep := func(seconds string) <-chan error {
		ran := make(chan error, 1)
		go func() { ran <- next.ownRoundTrip(ctx, &pgproto3.Query{String: "SELECT pg_sleep(" + seconds + ")"}) }()
		waitUntil(t, 10*time.Second, "the statement to run", func() bool {
			var active bool
			err := admin.QueryRow(ctx, "SELECT state = 'active' FROM pg_stat_activity WHERE pid = $1", int32(next.pid)).Scan(&active)
			return err == nil && active
		})
		return ran
	}

	ran := sleep("0.5")
	if err := next.cancel(ctx, ended); !errors.Is(err, errLendingOver) {
		t.Fatalf("cancel for the ended lending: %v, want errLendingOver", err)
	}
	if err := <-ran; err != nil {
		t.Fatalf("the next borrower's statement: %v", err)
	}

	ran = sleep("20")
	if err := next.cancel(ctx, next.lending.Load()); err != nil {
		t.Fatal(err)
	}
	var pe *pgconn.PgError
	if err := <-ran; !errors.As(err, &pe) || pe.Code != "57014" {
		t.Fatalf("cancel for the current lending: %v, want 57014", err)
	}
}
