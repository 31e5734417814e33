package proxy

import (
	"bytes"
	"testing"

	"github.com/jackc/pgx/v5/pgproto3"
)

// decodeCases are messages of the three kinds decodeFrontend decodes in
// place, each kind in several shapes, so that a reused message is
// decoded over one of another shape.
var decodeCases = []pgproto3.FrontendMessage{
	&pgproto3.Bind{},
	&pgproto3.Bind{DestinationPortal: "p1", PreparedStatement: "s1", ParameterFormatCodes: []int16{1, 0, 1},
		Parameters: [][]byte{[]byte("42"), nil, {}, []byte("x\x00y")}, ResultFormatCodes: []int16{1}},
	&pgproto3.Bind{PreparedStatement: "s1", Parameters: [][]byte{[]byte("7")}},
	&pgproto3.Bind{DestinationPortal: "p2", ResultFormatCodes: []int16{0, 1}},
	&pgproto3.Parse{Query: "SELECT 1"},
	&pgproto3.Parse{Name: "s1", Query: "SELECT $1::int + $2", ParameterOIDs: []uint32{23, 20}},
	&pgproto3.Parse{Name: "s1", Query: "SELECT $1::int + $2", ParameterOIDs: []uint32{23}},
	&pgproto3.Parse{Query: "SELECT 1"},
	&pgproto3.Execute{},
	&pgproto3.Execute{Portal: "p1", MaxRows: 100},
	&pgproto3.Execute{},
}

// bodyOf is m's encoding without its type and length.
func bodyOf(t *testing.T, m pgproto3.FrontendMessage) []byte {
	t.Helper()
	wire, err := m.Encode(nil)
	if err != nil {
		t.Fatal(err)
	}
	return wire[5:]
}

// freshOf is a new, empty message of m's kind.
func freshOf(m pgproto3.FrontendMessage) pgproto3.FrontendMessage {
	switch m.(type) {
	case *pgproto3.Bind:
		return &pgproto3.Bind{}
	case *pgproto3.Parse:
		return &pgproto3.Parse{}
	}
	return &pgproto3.Execute{}
}

// decodeFrontend decodes every message, into the same reused message of
// its kind, as pgproto3 decodes it into a fresh one; and it refuses every
// cut-short body pgproto3 refuses, and only those.
func TestDecodeFrontendMatchesPgproto3(t *testing.T) {
	reused := map[byte]pgproto3.FrontendMessage{}
	for _, m := range decodeCases {
		body := bodyOf(t, m)
		want := freshOf(m)
		if err := want.Decode(body); err != nil {
			t.Fatal(err)
		}
		typ := bodyType(t, m)
		if reused[typ] == nil {
			reused[typ] = freshOf(m)
		}
		got := reused[typ]
		if err := decodeFrontend(got, append([]byte(nil), body...)); err != nil {
			t.Fatalf("%#v: %v", m, err)
		}
		if g, w := bodyOf(t, got), bodyOf(t, want); !bytes.Equal(g, w) {
			t.Fatalf("decoded %#v, pgproto3 decodes %#v", got, want)
		}
		for cut := range len(body) {
			short := body[:cut:cut]
			wantErr := freshOf(m).Decode(short)
			gotErr := decodeFrontend(freshOf(m), short)
			if (wantErr == nil) != (gotErr == nil) {
				t.Fatalf("%#v cut to %d bytes: error %v, pgproto3 %v", m, cut, gotErr, wantErr)
			}
		}
	}
}

func bodyType(t *testing.T, m pgproto3.FrontendMessage) byte {
	t.Helper()
	wire, err := m.Encode(nil)
	if err != nil {
		t.Fatal(err)
	}
	return wire[0]
}

// A reused message decoded again from the same bytes allocates nothing:
// its slices' arrays are kept and its unchanged strings too.
func TestDecodeFrontendReusedAllocatesNothing(t *testing.T) {
	for _, m := range []pgproto3.FrontendMessage{decodeCases[1], decodeCases[5], decodeCases[9]} {
		body := bodyOf(t, m)
		msg := freshOf(m)
		if err := decodeFrontend(msg, body); err != nil {
			t.Fatal(err)
		}
		if n := testing.AllocsPerRun(100, func() { _ = decodeFrontend(msg, body) }); n != 0 && !raceEnabled {
			t.Fatalf("%d allocations per decode of %#v", int(n), m)
		}
	}
}
