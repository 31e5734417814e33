package proxy

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// When the per-transaction settings sent ahead of a simple Query fail,
// the backend skips every message up to a Sync, the client's Query with
// them, and no Sync follows in the simple protocol. The client must still
// get the server's error and ReadyForQuery at once (not wait for the idle
// timeout with its backend held), the backend must not be reused, and the
// session must work again once the cause is gone. The failure is forced
// by taking set_config away from the backend role after its session
// settings are in force, so the next lending applies nothing and only the
// per-transaction settings meet the refusal.
func TestInjectionFailureInSimpleProtocolAnswersReadyForQuery(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{poolMax: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, cluster.DSN(f.db))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	const revoke = "REVOKE EXECUTE ON FUNCTION pg_catalog.set_config(text, text, boolean) FROM PUBLIC"
	const grant = "GRANT EXECUTE ON FUNCTION pg_catalog.set_config(text, text, boolean) TO PUBLIC"
	t.Cleanup(func() { _, _ = admin.Exec(context.Background(), grant) })

	a := f.connect(t, "alice", pgx.QueryExecModeSimpleProtocol)
	var one int
	if err := a.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec(ctx, revoke); err != nil {
		t.Fatal(err)
	}
	qctx, qcancel := context.WithTimeout(ctx, 5*time.Second)
	err = a.QueryRow(qctx, "SELECT 1").Scan(&one)
	qcancel()
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "42501" {
		t.Fatalf("query with the settings refused: %v, want the server's 42501 and ReadyForQuery", err)
	}
	if _, err := admin.Exec(ctx, grant); err != nil {
		t.Fatal(err)
	}
	// Handed back as it was, still skipping to a Sync, the backend would
	// leave this query unanswered.
	var user string
	qctx, qcancel = context.WithTimeout(ctx, 5*time.Second)
	err = a.QueryRow(qctx, "SELECT current_setting('request.user_id')").Scan(&user)
	qcancel()
	if err != nil || user != "1" {
		t.Fatalf("after the grant: %q, %v", user, err)
	}
	// The only backend is free, and carries no half-applied state, for
	// the next client.
	b := f.connect(t, "bob", pgx.QueryExecModeSimpleProtocol)
	if err := b.QueryRow(ctx, "SELECT current_setting('request.user_id')").Scan(&user); err != nil || user != "2" {
		t.Fatalf("bob: %q, %v", user, err)
	}
}

// The same failure in the extended protocol ends at the client's own
// Sync, as any error in an extended batch does.
func TestInjectionFailureInExtendedProtocolEndsAtSync(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{poolMax: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, cluster.DSN(f.db))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	t.Cleanup(func() {
		_, _ = admin.Exec(context.Background(), "GRANT EXECUTE ON FUNCTION pg_catalog.set_config(text, text, boolean) TO PUBLIC")
	})
	a := f.connect(t, "alice", pgx.QueryExecModeExec)
	var one int
	if err := a.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec(ctx, "REVOKE EXECUTE ON FUNCTION pg_catalog.set_config(text, text, boolean) FROM PUBLIC"); err != nil {
		t.Fatal(err)
	}
	qctx, qcancel := context.WithTimeout(ctx, 5*time.Second)
	err = a.QueryRow(qctx, "SELECT 1").Scan(&one)
	qcancel()
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "42501" {
		t.Fatalf("extended query with the settings refused: %v, want the server's 42501", err)
	}
}
