package proxy

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// A TimeZone the policy lets through by its spelling but the server does
// not know (or a path out of the zone directory) is refused at the SET,
// as PostgreSQL refuses it, and the session stays usable with its
// previous zone. Put in force unchecked, it would make every later
// transaction's settings fail and leave the client waiting for an answer
// the backend never sends, with the backend held.
func TestClientSetTimeZoneTheServerRefuses(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{poolMax: 1})
	a := f.connect(t, "alice", pgx.QueryExecModeSimpleProtocol)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := a.Exec(ctx, "SET TimeZone = 'Europe/Paris'"); err != nil {
		t.Fatal(err)
	}
	for _, sql := range []string{
		"SET TimeZone = 'Nowhere/Land'",
		"SET TimeZone = '../../../../etc/passwd'",
		"SET TIME ZONE '/etc/localtime'",
	} {
		_, err := a.Exec(ctx, sql)
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != "22023" {
			t.Fatalf("%s: %v, want the server's 22023", sql, err)
		}
		var tz string
		if err := a.QueryRow(ctx, "SHOW TimeZone").Scan(&tz); err != nil || tz != "Europe/Paris" {
			t.Fatalf("after %s: SHOW TimeZone = %q, %v", sql, tz, err)
		}
		if got := a.PgConn().ParameterStatus("TimeZone"); got != "Europe/Paris" {
			t.Fatalf("after %s: ParameterStatus TimeZone = %q", sql, got)
		}
	}
	// The only backend is free for the next client.
	b := f.connect(t, "bob", pgx.QueryExecModeSimpleProtocol)
	var one int
	if err := b.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		t.Fatal(err)
	}
}
