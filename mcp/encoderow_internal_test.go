package mcp

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"
)

// appendRow must write exactly what json.Marshal writes per key and for
// the value jsonValue makes of each driver value (HTML-escaped strings
// included), in column order.
func TestAppendRowMatchesEncodingJSON(t *testing.T) {
	cols := []string{"id", "name", "note", "ok", "small", "total", "tags", "attrs", "missing", `we"ird<key>`, "at", "day", "blob", "f"}
	sel := make([]selectedColumn, len(cols))
	for i, c := range cols {
		sel[i] = selectedColumn{name: c, class: classText}
	}
	sel[10].class, sel[11].class = classTimestampTZ, classDate
	at := time.Date(2024, 2, 29, 23, 59, 58, 123456000, time.FixedZone("x", 5*3600+1800))
	rows := [][]any{
		{int64(-9007199254740993), "Zoë <b>&amp;</b>", "line\nbreak\t\"quoted\" \u2028\u2029 \b\f\x01\x1f\\", true,
			int16(-7), "12.50", []any{"a", int64(2), nil}, map[string]any{"z": 1.5, "a": []any{}}, nil, int32(math.MaxInt32),
			at, at, []byte{0, 1, 2, 0xff}, 1e-7},
		{int64(0), "", nil, false, int(3), 0.1, []any{}, map[string]any{}, nil, nil, nil, nil, []byte{}, 1e21},
		{int64(1), string([]byte{0xff, 'x'}), strings.Repeat("é", 3), nil, nil, math.Inf(1), nil, nil, nil, nil, nil, nil, nil, float32(0.1)},
		{nil, "\U0001F600 ok", "\x7f", nil, nil, -123.456e-10, nil, nil, nil, nil, nil, nil, nil, 123456789.0},
	}
	keys := encodedKeys(sel)
	for _, row := range rows {
		var want strings.Builder
		want.WriteByte('{')
		for i, c := range cols {
			if i > 0 {
				want.WriteByte(',')
			}
			k, _ := json.Marshal(c)
			v, err := json.Marshal(jsonValue(row[i], sel[i]))
			if err != nil {
				v = []byte("null")
			}
			want.Write(k)
			want.WriteByte(':')
			want.Write(v)
		}
		want.WriteByte('}')
		got := string(appendRow(nil, keys, sel, row))
		if got != want.String() {
			t.Errorf("appendRow:\n got %s\nwant %s", got, want.String())
		}
		if !json.Valid([]byte(got)) {
			t.Errorf("not JSON: %s", got)
		}
	}
}

// The text block is a JSON string the SDK does not re-encode: it must
// read back as the text, whatever the text holds.
func TestAppendJSONStringReadsBack(t *testing.T) {
	for _, s := range []string{"", "plain", "<rows>\n{\"a\":\"\\u003c\"}\n</rows>\n", "\x00\x1f\x7f\b\f\r\t", "\u2028é\U0001F600", "a\\"} {
		b := appendJSONString(nil, s, false)
		var back string
		if err := json.Unmarshal(b, &back); err != nil || back != s {
			t.Errorf("%q encoded as %s reads back as %q (%v)", s, b, back, err)
		}
	}
}
