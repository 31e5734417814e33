package proxy

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/pgmoat/pgmoat/integration/pgcluster"
)

// A TimeZone given at startup (PGTZ) is reported at login as the server
// spells it, by PostgreSQL and through pgmoat alike, and a RESET brings
// that spelling back; a value the server refuses (a zone it does not
// know, a DateStyle, IntervalStyle or extra_float_digits it cannot
// read) ends the login with PostgreSQL's FATAL, naming the parameter as
// the client did.
func TestStartupParametersCheckedAsTheServer(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{poolMax: 2})
	db := pgcluster.NewDatabase(t, cluster)
	ctx := context.Background()
	q := func(sql string) []pgproto3.FrontendMessage {
		return []pgproto3.FrontendMessage{&pgproto3.Query{String: sql}}
	}
	zone := [][]pgproto3.FrontendMessage{
		q("SHOW TimeZone"), q("SET TimeZone = 'UTC'"), q("RESET TimeZone"), q("SHOW TimeZone"),
		q("SELECT '2024-07-01 12:00'::timestamptz::text"),
	}
	login := func(dsn string, batches [][]pgproto3.FrontendMessage) (string, error) {
		c, err := pgconn.Connect(ctx, dsn)
		if err != nil {
			return "", err
		}
		var b strings.Builder
		for _, name := range []string{"TimeZone", "DateStyle", "IntervalStyle"} {
			b.WriteString("S " + name + "=" + c.ParameterStatus(name) + "\n")
		}
		return b.String() + wireTranscript(t, c, batches, transcriptOptions{rows: true}), nil
	}
	cases := []struct {
		param   string
		batches [][]pgproto3.FrontendMessage
	}{
		{"timezone=europe/paris", zone},
		{"timezone=utc", zone},
		{"timezone=EST5EDT", zone},
		{"timezone=est5edt", zone},
		{"timezone=+05", zone},
		{"timezone=etc/utc", zone},
		{"TimeZone=America/New_York", zone},
		{"timezone=nowhere/land", zone},
		{"datestyle=bogus", nil},
		{"datestyle=iso,default", [][]pgproto3.FrontendMessage{q("SHOW DateStyle")}},
		{"intervalstyle=bogus", nil},
		{"IntervalStyle=bogus", nil},
		{"extra_float_digits=99", nil},
		{"extra_float_digits=x", nil},
		{"extra_float_digits=-3", [][]pgproto3.FrontendMessage{q("SHOW extra_float_digits")}},
	}
	for _, c := range cases {
		t.Run(c.param, func(t *testing.T) {
			param := " application_name=z0 " + c.param
			want, wantErr := login(cluster.DSN(db)+param, c.batches)
			got, gotErr := login(f.dsn("alice")+param, c.batches)
			if wantErr != nil || gotErr != nil {
				var wpe, gpe *pgconn.PgError
				if !errors.As(wantErr, &wpe) || !errors.As(gotErr, &gpe) || gpe.Severity != wpe.Severity ||
					gpe.Code != wpe.Code || gpe.Message != wpe.Message || gpe.Detail != wpe.Detail || gpe.Hint != wpe.Hint {
					t.Fatalf("login through pgmoat: %v\nPostgreSQL: %v", gotErr, wantErr)
				}
				return
			}
			if got != want {
				t.Fatalf("through pgmoat:\n%s\nPostgreSQL:\n%s", got, want)
			}
		})
	}
}

// A login does not wait for a full pool to spell its zone: past
// startupWait it goes on with the zone as typed, which the server
// spells at the first statement.
func TestStartupTimeZoneFullPool(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{poolMax: 1, acquireTimeout: 10 * time.Second})
	ctx := context.Background()
	busy := f.connect(t, "bob", pgx.QueryExecModeSimpleProtocol)
	tx, err := busy.Begin(ctx) // holds the only backend
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	c, err := pgconn.Connect(ctx, f.dsn("alice")+" timezone=asia/tokyo")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	if took := time.Since(start); took > startupWait+5*time.Second {
		t.Fatalf("the login waited %v", took)
	}
	if got := c.ParameterStatus("TimeZone"); got != "asia/tokyo" {
		t.Fatalf("TimeZone reported %q, want it as typed", got)
	}
	_ = tx.Rollback(ctx)
	res := c.Exec(ctx, "SHOW TimeZone")
	rows, err := res.ReadAll()
	if err != nil || len(rows) != 1 || len(rows[0].Rows) != 1 || string(rows[0].Rows[0][0]) != "Asia/Tokyo" {
		t.Fatalf("SHOW TimeZone: %v, %v", rows, err)
	}
}
