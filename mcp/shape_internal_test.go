package mcp

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/pgmoat/pgmoat/policy"
)

func TestCursorIsTamperEvidentAndBound(t *testing.T) {
	key := []byte("k")
	v := "2024-05-31T14:30:00Z"
	c := encodeCursor(key, "digest-a", []*string{&v, nil})
	pos, err := decodeCursor(key, "digest-a", c, 2)
	if err != nil || *pos[0] != v || pos[1] != nil {
		t.Fatalf("round trip: %v %v", pos, err)
	}
	body, sig, _ := strings.Cut(c, ".")
	for name, bad := range map[string]string{
		"other query":   c,
		"flipped byte":  body[:len(body)-2] + "x" + body[len(body)-1:] + "." + sig,
		"other key":     encodeCursor([]byte("other"), "digest-a", []*string{&v, nil}),
		"no signature":  body,
		"garbage":       "!!!.???",
		"wrong length":  encodeCursor(key, "digest-a", []*string{&v}),
		"empty payload": "." + sig,
	} {
		digest := "digest-a"
		if name == "other query" {
			digest = "digest-b"
		}
		if _, err := decodeCursor(key, digest, bad, 2); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestCursorDigestBindsCallerFiltersAndOrder(t *testing.T) {
	set := ordersSet(t)
	spec, _ := set.Tool("query_orders")
	a := mustArgs(t, spec, `{"customer_id": 7}`)
	base := cursorDigest(spec, policy.Identity{UserID: "1"}, a, orderKeys(spec, nil))
	other := []string{
		cursorDigest(spec, policy.Identity{UserID: "2"}, a, orderKeys(spec, nil)),
		cursorDigest(spec, policy.Identity{UserID: "1", Profile: "analyst"}, a, orderKeys(spec, nil)),
		cursorDigest(spec, policy.Identity{UserID: "1"}, mustArgs(t, spec, `{"customer_id": 8}`), orderKeys(spec, nil)),
		cursorDigest(spec, policy.Identity{UserID: "1"}, a, orderKeys(spec, &OrderChoice{Column: "created_at", Desc: true})),
	}
	for i, d := range other {
		if d == base {
			t.Errorf("variant %d has the same digest", i)
		}
	}
	limit := mustArgs(t, spec, `{"customer_id": 7, "limit": 5, "columns": ["id"]}`)
	if cursorDigest(spec, policy.Identity{UserID: "1"}, limit, orderKeys(spec, nil)) != base {
		t.Error("limit and columns should not change the digest")
	}
}

func TestJSONValues(t *testing.T) {
	ts := time.Date(2024, 5, 31, 14, 30, 0, 123000000, time.FixedZone("", 7200))
	cases := []struct {
		in    any
		class typeClass
		want  string
	}{
		{ts, classTimestampTZ, `"2024-05-31T14:30:00.123+02:00"`},
		{ts, classTimestamp, `"2024-05-31 14:30:00.123"`},
		{ts, classDate, `"2024-05-31"`},
		{[]byte{0, 255}, classBinary, `"AP8="`},
		{[16]byte{0x12, 0x3e, 0x45, 0x67, 0xe8, 0x9b, 0x12, 0xd3, 0xa4, 0x56, 0x42, 0x66, 0x14, 0x17, 0x40, 0}, classUUID, `"123e4567-e89b-12d3-a456-426614174000"`},
		{math.NaN(), classFloat, `"NaN"`},
		{float32(0.1), classFloat, `0.1`},
		{int64(1) << 60, classInteger, `1152921504606846976`},
		{map[string]any{"a": []any{1.0}}, classJSON, `{"a":[1]}`},
		{"infinity", classTimestampTZ, `"infinity"`},
	}
	for _, c := range cases {
		b, err := json.Marshal(jsonValue(c.in, selectedColumn{class: c.class}))
		if err != nil || string(b) != c.want {
			t.Errorf("%#v: %s %v, want %s", c.in, b, err, c.want)
		}
	}
}

func TestByteBudgetCutsThePage(t *testing.T) {
	pl := &plan{selected: []selectedColumn{{name: "id", class: classInteger}, {name: "body", class: classText}}, keys: []int{0}, returned: 2}
	rows := &Rows{Columns: []string{"id", "body"}}
	for i := range 50 {
		rows.Values = append(rows.Values, []any{int64(i), strings.Repeat("x", 1000)})
	}
	pg, last, _ := shapeRows(pl, rows, 100, false, 10<<10)
	if pg.RowCount != 10 || !pg.Truncated || !pg.budgetHit || last == nil || *last[0] != "9" {
		t.Errorf("budget 10 KiB over 1 KB rows: %d rows, truncated %v, last %v", pg.RowCount, pg.Truncated, last)
	}
	pg, last, _ = shapeRows(pl, rows, 100, false, 1<<20)
	if pg.RowCount != 50 || pg.Truncated || last != nil {
		t.Errorf("no limit reached: %d rows, truncated %v", pg.RowCount, pg.Truncated)
	}
	pg, _, _ = shapeRows(pl, rows, 50, true, 1<<20)
	if !pg.Truncated {
		t.Error("a page the probe row could not test must say truncated")
	}
}

// TestOversizedRowIsRefusedNamingTheColumn: no page exceeds the budget,
// not even one of a single row; the refusal names the column to leave out
// and the columns still available, whether the executor cut the value or
// the row's JSON alone is too large.
func TestOversizedRowIsRefusedNamingTheColumn(t *testing.T) {
	pl := &plan{selected: []selectedColumn{{name: "id", class: classInteger}, {name: "title", class: classText}, {name: "body", class: classText}}, keys: []int{0}, returned: 3}
	spec := &ToolSpec{Name: "query_docs", Params: []*Param{{Name: "columns", Kind: ParamColumns}}}
	small := []any{int64(1), "a", "b"}
	cases := []struct {
		name     string
		rows     *Rows
		wantRows int // -1: refused
	}{
		{"cut by the executor", &Rows{Values: [][]any{{int64(1), "a", nil}}, Cut: []CutValue{{Row: 0, Column: 2, Size: 50_000_000}}}, -1},
		{"json alone too large", &Rows{Values: [][]any{{int64(1), "a", strings.Repeat("x", 5000)}}}, -1},
		{"a large row after a small one ends the page", &Rows{Values: [][]any{small, {int64(2), "a", strings.Repeat("x", 5000)}}}, 1},
		{"a cut row after a small one ends the page", &Rows{Values: [][]any{small, {int64(2), "a", nil}}, Cut: []CutValue{{Row: 1, Column: 2, Size: 9000}}}, 1},
		{"the executor stopped at the budget", &Rows{Values: [][]any{small}, Truncated: true}, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pg, last, err := shapeRows(pl, tc.rows, 10, false, 1000)
			if tc.wantRows < 0 {
				var oe *oversizedRow
				if !errors.As(err, &oe) {
					t.Fatalf("want an oversized-row refusal, got %v", err)
				}
				msg := advice(spec, err)
				for _, want := range []string{"query_docs", "column body holds", "1000 bytes", `columns: ["id", "title"]`} {
					if !strings.Contains(msg, want) {
						t.Errorf("advice %q lacks %q", msg, want)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if pg.RowCount != tc.wantRows || !pg.Truncated || !pg.budgetHit || last == nil || *last[0] != "1" {
				t.Errorf("%d rows, truncated %v, budget hit %v, last %v", pg.RowCount, pg.Truncated, pg.budgetHit, last)
			}
			if n := len(renderText("query_docs", pg, DataWrapperNone)); n > 1000+200 {
				t.Errorf("text of %d bytes over a 1000-byte budget", n)
			}
		})
	}
}

// digestBefore is cursorDigest as it was written first, hashing the
// parts as it goes: cursors already handed out must still be accepted.
func digestBefore(spec *ToolSpec, id policy.Identity, a *callArgs, keys []orderKey) string {
	h := sha256.New()
	write := func(s string) {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	write(spec.Name)
	write(spec.Table.String())
	write(id.UserID)
	write(id.Profile)
	for _, p := range spec.Params {
		if f, ok := a.filters[p.Name]; ok {
			write(p.Name)
			write(f.text)
			write(strings.Join(f.list, "\x00"))
		}
	}
	for _, k := range keys {
		write(k.column)
		if k.desc {
			write("desc")
		}
	}
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:16])
}

// TestCursorDigestUnchanged: the digest is the same bytes as before for
// lists, scalars, orders and long inputs past the stack buffer.
func TestCursorDigestUnchanged(t *testing.T) {
	spec, _ := ordersSet(t).Tool("query_orders")
	long := `"` + strings.Repeat("é", 400) + `"`
	for _, args := range []string{`{}`, `{"customer_id": 7}`, `{"customer_id_in": [1, 2, 3], "status_in": ["paid"]}`,
		`{"customer_id_in": [1], "note_search": ` + long + `}`, `{"created_at_gte": "2024-01-01", "order_by": "created_at desc"}`} {
		a := mustArgs(t, spec, args)
		for _, id := range []policy.Identity{{UserID: "1"}, {UserID: "2", Profile: "analyst"}} {
			keys := orderKeys(spec, a.order)
			if got, want := cursorDigest(spec, id, a, keys), digestBefore(spec, id, a, keys); got != want {
				t.Errorf("%s as %v: digest %s, before %s", args, id, got, want)
			}
		}
	}
}
