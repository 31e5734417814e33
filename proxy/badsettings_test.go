package proxy

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// TestRefusedStartupParameterEndsTheSessionNotTheBackend: a TimeZone the
// server refuses ends the login with FATAL and the server's reason, as
// PostgreSQL ends it; one a full pool left unchecked at login fails the
// client's first statement so instead. Either way the backend it was
// tried on goes back to the pool instead of being closed (a client must
// not be able to make pgmoat open and close backends at will).
func TestRefusedStartupParameterEndsTheSessionNotTheBackend(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{poolMax: 1, poolMin: 1})
	ctx := context.Background()
	cfg, err := pgx.ParseConfig(f.dsn("alice"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.RuntimeParams["TimeZone"] = "Mars/Olympus"
	created := f.pool.Stats().Created
	var pgErr *pgconn.PgError
	if _, err := pgx.ConnectConfig(ctx, cfg); !errors.As(err, &pgErr) || pgErr.Severity != "FATAL" || pgErr.Code != "22023" ||
		!strings.Contains(pgErr.Message, "Mars/Olympus") {
		t.Fatalf("login: %v", err)
	}

	busy := f.connect(t, "bob", pgx.QueryExecModeSimpleProtocol)
	tx, err := busy.Begin(ctx) // the pool is full while alice logs in
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	_ = tx.Rollback(ctx)
	_, err = conn.Exec(ctx, "SELECT 1")
	if !errors.As(err, &pgErr) || pgErr.Severity != "FATAL" || pgErr.Code != "22023" ||
		!strings.Contains(pgErr.Message, "settings.refused") || !strings.Contains(pgErr.Message, "Mars/Olympus") {
		t.Fatalf("first statement: %v", err)
	}
	if _, err := conn.Exec(ctx, "SELECT 1"); err == nil {
		t.Fatal("the session went on after FATAL")
	}
	st := f.pool.Stats()
	if st.Closed != 0 || st.Created != created {
		t.Fatalf("the backend was replaced: %+v", st)
	}
	// The one backend serves the next client, clean.
	good := f.connect(t, "bob", pgx.QueryExecModeSimpleProtocol)
	var tz string
	if err := good.QueryRow(ctx, "SHOW TimeZone").Scan(&tz); err != nil || tz == "Mars/Olympus" {
		t.Fatalf("next client: %q %v", tz, err)
	}
}
