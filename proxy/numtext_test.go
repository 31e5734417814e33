package proxy

import (
	"testing"

	"github.com/jackc/pgx/v5/pgtype"
)

// TestDecodeSmallNumeric: what the fast path takes it decodes exactly
// as pgx does; what it leaves, pgx decodes.
func TestDecodeSmallNumeric(t *testing.T) {
	taken := []string{"0", "-0", "1", "-1", "12.50", "-12.50", "100", "-100", "00", "0.000", "1000000000000000000",
		"999999999999999999", "-99999999999999999.9", "0.00000000000000001", "42.0"}
	left := []string{"", "-", ".5", "5.", "-.5", "+5", "1e5", "NaN", "Infinity", "-Infinity", "1.2.3", "1_000", " 1",
		"9999999999999999999", "0.000000000000000001", "12345678901234567890.5", "1-2", "--1"}
	codec := pgtype.NumericCodec{}
	check := func(s string, wantTaken bool) {
		got, ok := decodeSmallNumeric([]byte(s))
		if ok != wantTaken {
			t.Errorf("%q: taken %v, want %v", s, ok, wantTaken)
		}
		if !ok {
			return
		}
		v, err := codec.DecodeValue(pgtype.NewMap(), pgtype.NumericOID, pgtype.TextFormatCode, []byte(s))
		if err != nil {
			t.Fatalf("%q: taken, but pgx refuses it: %v", s, err)
		}
		want := v.(pgtype.Numeric)
		if got.Int.Cmp(want.Int) != 0 || got.Exp != want.Exp || got.Valid != want.Valid || got.NaN || got.InfinityModifier != 0 {
			t.Errorf("%q: %v e%d, pgx %v e%d", s, got.Int, got.Exp, want.Int, want.Exp)
		}
		if gs, ws := numericText(t, got), numericText(t, want); gs != ws {
			t.Errorf("%q: text %s, pgx %s", s, gs, ws)
		}
	}
	for _, s := range taken {
		check(s, true)
	}
	for _, s := range left {
		check(s, false)
	}
}

func numericText(t *testing.T, n pgtype.Numeric) string {
	t.Helper()
	b, err := n.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// FuzzDecodeSmallNumeric holds the fast path to pgx on any text.
func FuzzDecodeSmallNumeric(f *testing.F) {
	for _, s := range []string{"0", "-12.50", "100", "1e5", ".5", "999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := decodeSmallNumeric([]byte(s))
		if !ok {
			return
		}
		v, err := pgtype.NumericCodec{}.DecodeValue(pgtype.NewMap(), pgtype.NumericOID, pgtype.TextFormatCode, []byte(s))
		if err != nil {
			t.Fatalf("%q: taken, but pgx refuses it: %v", s, err)
		}
		want := v.(pgtype.Numeric)
		if got.Int.Cmp(want.Int) != 0 || got.Exp != want.Exp || !got.Valid {
			t.Fatalf("%q: %v e%d, pgx %v e%d", s, got.Int, got.Exp, want.Int, want.Exp)
		}
	})
}
