package mcp

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

// encodeRow must write exactly what json.Marshal writes per key and value
// (HTML-escaped strings included), in column order.
func TestEncodeRowMatchesEncodingJSON(t *testing.T) {
	cols := []string{"id", "name", "note", "ok", "small", "total", "tags", "attrs", "missing", `we"ird<key>`}
	rows := []map[string]any{
		{"id": int64(-9007199254740993), "name": "Zoë <b>&amp;</b>", "note": "line\nbreak\t\"quoted\" \u2028", "ok": true,
			"small": int16(-7), "total": "12.50", "tags": []any{"a", int64(2), nil}, "attrs": map[string]any{"z": 1.5, "a": []any{}},
			`we"ird<key>`: int32(math.MaxInt32)},
		{"id": int64(0), "name": "", "note": nil, "ok": false, "small": int(3), "total": 0.1, "tags": []any{}, "attrs": map[string]any{}},
		{"id": int64(1), "name": string([]byte{0xff, 'x'}), "note": strings.Repeat("é", 3), "ok": nil, "total": math.Inf(1)},
	}
	keys := encodedKeys(cols)
	for _, row := range rows {
		var want strings.Builder
		want.WriteByte('{')
		for i, c := range cols {
			if i > 0 {
				want.WriteByte(',')
			}
			k, _ := json.Marshal(c)
			v, err := json.Marshal(row[c])
			if err != nil {
				v = []byte("null")
			}
			want.Write(k)
			want.WriteByte(':')
			want.Write(v)
		}
		want.WriteByte('}')
		got := string(encodeRow(keys, cols, row))
		if got != want.String() {
			t.Errorf("encodeRow:\n got %s\nwant %s", got, want.String())
		}
		if !json.Valid([]byte(got)) {
			t.Errorf("not JSON: %s", got)
		}
	}
}
