package proxy

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// PostgreSQL reads a literal of a prepared statement when it parses it,
// under the settings in force then: '01/02/2020'::date is the first of
// February under DateStyle DMY and the second of January under MDY, and
// stays what it was read as for the life of the statement. Two clients of
// one identity share a backend's server-side statements, so a statement
// one client prepared under its DateStyle or TimeZone must not be the one
// another client, with other settings, binds: each must get what
// PostgreSQL gives it.
func TestPreparedStatementIsNotSharedAcrossParseSettings(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{poolMax: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cases := []struct {
		name, set, sql string
	}{
		{"set DateStyle", "SET DateStyle = 'ISO, DMY'", "SELECT '01/02/2020'::date::text"},
		{"set TimeZone", "SET TimeZone = 'Asia/Tokyo'", "SELECT extract(epoch FROM '2020-01-01 00:00:00'::timestamptz)::text"},
		{"set IntervalStyle", "SET IntervalStyle = 'sql_standard'", "SELECT '-1 2:03:04'::interval::text || ' '"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := f.connect(t, "alice", pgx.QueryExecModeCacheStatement)
			b := f.connect(t, "alice", pgx.QueryExecModeCacheStatement)
			if _, err := a.Exec(ctx, c.set, pgx.QueryExecModeSimpleProtocol); err != nil {
				t.Fatal(err)
			}
			var fromA, fromB, plainB string
			if err := a.QueryRow(ctx, c.sql).Scan(&fromA); err != nil {
				t.Fatal(err)
			}
			if err := b.QueryRow(ctx, c.sql, pgx.QueryExecModeSimpleProtocol).Scan(&plainB); err != nil {
				t.Fatal(err)
			}
			if err := b.QueryRow(ctx, c.sql).Scan(&fromB); err != nil {
				t.Fatal(err)
			}
			if fromA == plainB {
				t.Fatalf("the setting changes nothing here (%q both): the case proves nothing", fromA)
			}
			if fromB != plainB {
				t.Fatalf("b's prepared %s gives %q (read under a's %q), PostgreSQL gives b %q", c.sql, fromB, c.set, plainB)
			}
		})
	}
}

// The same holds for settings a client chose at startup: they are the
// backend session's settings while it serves that client, not a
// transaction's, but a statement prepared under them is shared the same
// way.
func TestPreparedStatementIsNotSharedAcrossStartupSettings(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{poolMax: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg, err := pgx.ParseConfig(f.dsn("alice"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.RuntimeParams["DateStyle"] = "ISO, DMY"
	a, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close(ctx)
	b := f.connect(t, "alice", pgx.QueryExecModeCacheStatement)
	const sql = "SELECT '01/02/2020'::date::text"
	var fromA, fromB string
	if err := a.QueryRow(ctx, sql).Scan(&fromA); err != nil {
		t.Fatal(err)
	}
	if err := b.QueryRow(ctx, sql).Scan(&fromB); err != nil {
		t.Fatal(err)
	}
	if fromA != "2020-02-01" || fromB != "2020-01-02" {
		t.Fatalf("a (DMY) reads %q, b (MDY) reads %q; want 2020-02-01 and 2020-01-02", fromA, fromB)
	}
}

// A client that SETs DateStyle after preparing a statement has it read
// again under its new DateStyle where it is next prepared: prepared
// again under its old server-side name, the statement would be read
// under the new setting and bound by the next client that prepares the
// same text under the old one. Here the only backend loses the
// statement in between (another identity borrows it: DISCARD ALL).
func TestPreparedStatementPreparedAgainAfterASet(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{poolMax: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const sql = "SELECT '01/02/2020'::date::text"
	a := f.connect(t, "alice", pgx.QueryExecModeCacheStatement)
	var got string
	if err := a.QueryRow(ctx, sql).Scan(&got); err != nil || got != "2020-01-02" {
		t.Fatalf("a under MDY: %q, %v", got, err)
	}
	bob := f.connect(t, "bob", pgx.QueryExecModeSimpleProtocol)
	if _, err := bob.Exec(ctx, "SELECT 1"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Exec(ctx, "SET DateStyle = 'ISO, DMY'", pgx.QueryExecModeSimpleProtocol); err != nil {
		t.Fatal(err)
	}
	if err := a.QueryRow(ctx, sql).Scan(&got); err != nil || got != "2020-02-01" {
		t.Fatalf("a's statement prepared again under DMY: %q, %v", got, err)
	}
	b := f.connect(t, "alice", pgx.QueryExecModeCacheStatement)
	if err := b.QueryRow(ctx, sql).Scan(&got); err != nil || got != "2020-01-02" {
		t.Fatalf("b under MDY binds %q, %v; want 2020-01-02", got, err)
	}
}
