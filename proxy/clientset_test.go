package proxy

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// A client's SET of a listed setting is in force in each of its
// transactions (SHOW, pg_stat_activity), is reported to it, and is gone
// for the next client of the same backend; refused settings stay
// refused.
func TestClientSettingsStayWithTheClient(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{poolMax: 1})
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, cluster.DSN(f.db))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)

	a := f.connect(t, "alice", pgx.QueryExecModeSimpleProtocol)
	for _, sql := range []string{"SET application_name = 'tool-a'", "SET DateStyle TO German", "SET extra_float_digits = 3"} {
		if _, err := a.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	if got := a.PgConn().ParameterStatus("application_name"); got != "tool-a" {
		t.Errorf("ParameterStatus application_name = %q", got)
	}
	if got := a.PgConn().ParameterStatus("DateStyle"); got != "German, DMY" {
		t.Errorf("ParameterStatus DateStyle = %q", got)
	}
	var name, style string
	if err := a.QueryRow(ctx, "SHOW application_name").Scan(&name); err != nil || name != "tool-a" {
		t.Fatalf("SHOW application_name = %q, %v", name, err)
	}
	if err := a.QueryRow(ctx, "SHOW DateStyle").Scan(&style); err != nil || style != "German, DMY" {
		t.Fatalf("SHOW DateStyle = %q, %v", style, err)
	}
	// Inside the client's transaction the server reports its name.
	tx, err := a.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var digits string
	if err := tx.QueryRow(ctx, "SELECT current_setting('extra_float_digits')").Scan(&digits); err != nil || digits != "3" {
		t.Fatalf("extra_float_digits = %q, %v", digits, err)
	}
	var n int
	if err := admin.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'tool-a' AND datname = current_database()").Scan(&n); err != nil || n != 1 {
		t.Fatalf("pg_stat_activity rows named tool-a during the transaction: %d, %v", n, err)
	}
	if _, err := a.Exec(ctx, "SET TimeZone = 'UTC'"); !isRule(err, "settings.transaction") {
		t.Errorf("SET inside a transaction block: %v", err)
	}
	_ = tx.Rollback(ctx)
	if err := admin.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'tool-a' AND datname = current_database()").Scan(&n); err != nil || n != 0 {
		t.Fatalf("pg_stat_activity rows named tool-a after the transaction: %d, %v", n, err)
	}

	// The same identity on the same (only) backend right after.
	b := f.connect(t, "alice", pgx.QueryExecModeSimpleProtocol)
	if err := b.QueryRow(ctx, "SELECT current_setting('application_name'), current_setting('DateStyle')").Scan(&name, &style); err != nil {
		t.Fatal(err)
	}
	if name == "tool-a" || style == "German, DMY" {
		t.Fatalf("the next client sees application_name=%q DateStyle=%q", name, style)
	}
	// The first client keeps its own; RESET takes it back.
	if err := a.QueryRow(ctx, "SHOW application_name").Scan(&name); err != nil || name != "tool-a" {
		t.Fatalf("SHOW application_name again = %q, %v", name, err)
	}
	if _, err := a.Exec(ctx, "RESET application_name"); err != nil {
		t.Fatal(err)
	}
	if err := a.QueryRow(ctx, "SHOW application_name").Scan(&name); err != nil || name == "tool-a" {
		t.Fatalf("SHOW application_name after RESET = %q, %v", name, err)
	}

	for _, sql := range []string{"SET search_path = public", "SET statement_timeout = 0", "SET ROLE postgres", "SET LOCAL application_name = 'x'"} {
		if _, err := a.Exec(ctx, sql); !isRule(err, "settings.change") {
			t.Errorf("%s: %v", sql, err)
		}
	}
	// The extended protocol's SET is taken the same way
	// (clientsetext_test.go has more).
	e := f.connect(t, "alice", pgx.QueryExecModeExec)
	if _, err := e.PgConn().ExecParams(ctx, "SET application_name = 'ext'", nil, nil, nil, nil).Close(); err != nil {
		t.Errorf("extended SET: %v", err)
	}
	if err := e.QueryRow(ctx, "SHOW application_name").Scan(&name); err != nil || name != "ext" {
		t.Fatalf("after extended SET: %q, %v", name, err)
	}
}

func isRule(err error, rule string) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "42501" && len(pe.Message) > len(rule) && pe.Message[:len("pgmoat: "+rule+":")] == "pgmoat: "+rule+":"
}
