package shop

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Known answers from PostgreSQL 15's hashint8extended, so the Go port is
// checked even without a server.
func TestMixKnownAnswers(t *testing.T) {
	tests := []struct{ v, seed, want int64 }{
		{1, 0, -3670598878359251130},
		{1, 1, -7620678293940249823},
		{42, 7, 3069212791777980624},
		{-5, 3, 4566310048417840633},
		{5000000000, 123456789012, -2408803045012267056},
	}
	for _, tt := range tests {
		if got, want := mix(tt.v, tt.seed), tt.want&hashMask; got != want {
			t.Errorf("mix(%d, %d) = %d, want %d", tt.v, tt.seed, got, want)
		}
	}
}

// The generator's row counts are predicted in Go; this checks the port
// against the server over many values, seeds and signs.
func TestMixMatchesServer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, cluster.DSN("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `
		SELECT v, s, hashint8extended(v, s) & 4611686018427387903
		FROM generate_series(-2000, 2000) v0,
		     LATERAL (VALUES (v0 * 1000003), (v0::bigint << 33)) x(v),
		     unnest(ARRAY[0, 1, 101, 4294967296, -7]::bigint[]) s`)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for rows.Next() {
		var v, s, want int64
		if err := rows.Scan(&v, &s, &want); err != nil {
			t.Fatal(err)
		}
		if got := mix(v, s); got != want {
			t.Fatalf("mix(%d, %d) = %d, server says %d", v, s, got, want)
		}
		n++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if n != 4001*2*5 {
		t.Fatalf("compared %d values, want %d", n, 4001*2*5)
	}
}
