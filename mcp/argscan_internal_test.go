package mcp

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// reflectParseArgs is parseArgs as it was before scanObject: every call
// decoded by encoding/json into a map. It is the reference the scanner's
// results are held to.
func reflectParseArgs(spec *ToolSpec, raw json.RawMessage, maxValue int) (*callArgs, error) {
	obj, err := decodeObject(raw)
	if err != nil {
		return nil, err
	}
	return validateArgs(spec, obj, maxValue)
}

// sameAsReflective fails t unless parseArgs and the reflective reference
// agree on raw: equal arguments, or errors with the same text. It
// returns parseArgs' answer.
func sameAsReflective(t testing.TB, spec *ToolSpec, raw []byte) (*callArgs, error) {
	t.Helper()
	got, gotErr := parseArgs(spec, raw, 0)
	want, wantErr := reflectParseArgs(spec, raw, 0)
	if (gotErr == nil) != (wantErr == nil) || gotErr != nil && gotErr.Error() != wantErr.Error() {
		t.Fatalf("%.200q: error %v, reflective %v", raw, gotErr, wantErr)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%.200q: arguments %+v, reflective %+v", raw, got, want)
	}
	if pairs, ok := scanObject(raw, nil, nil); ok {
		ref, err := decodeObject(raw)
		if err != nil {
			t.Fatalf("%.200q: scanned, but decodeObject refuses it: %v", raw, err)
		}
		if got, want := lastByName(pairs), sortedPairs(ref); len(got)+len(want) > 0 && !reflect.DeepEqual(got, want) {
			t.Fatalf("%.200q: scanned %#v, decoded %#v", raw, got, want)
		}
	}
	eachArgumentAgrees(t, raw)
	return got, gotErr
}

// eachArgumentAgrees fails t unless EachArgument, asked for the values of
// names of even length, reports the members decodeObject finds (the
// others with nil values), or reports nothing when decodeObject finds no
// object.
func eachArgumentAgrees(t testing.TB, raw []byte) {
	t.Helper()
	want := func(name string) bool { return len(name)%2 == 0 }
	var got []argPair
	ok := EachArgument(raw, want, func(name string, v any) { got = append(got, argPair{name, v}) })
	ref, err := decodeObject(raw)
	if err != nil || len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null" {
		if ok || got != nil {
			t.Fatalf("%.200q: EachArgument found %v where decodeObject finds no object", raw, got)
		}
		return
	}
	exp := sortedPairs(ref)
	for i := range exp {
		if !want(exp[i].name) {
			exp[i].value = nil
		}
	}
	if !ok || len(got)+len(exp) > 0 && !reflect.DeepEqual(got, exp) {
		t.Fatalf("%.200q: EachArgument %v (%v), decoded %v", raw, got, ok, exp)
	}
}

func sortedPairs(m map[string]any) []argPair {
	out := []argPair{}
	for k, v := range m {
		out = append(out, argPair{k, v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// TestParseArgsEdgeCases: inputs a hand-written scanner gets wrong most
// easily give what encoding/json gave, error texts included, and what
// each should give.
func TestParseArgsEdgeCases(t *testing.T) {
	spec, _ := ordersSet(t).Tool("query_orders")
	big := strings.Repeat("x", 1<<20)
	longList := "[" + strings.Repeat("7,", 100_000) + "7]"
	deep := strings.Repeat("[", 10_001) + strings.Repeat("]", 10_001)
	for _, tc := range []struct {
		name, args string
		check      func(*callArgs) bool // nil: an error is wanted
		errText    string               // part of the error
	}{
		{name: "empty", args: ``, check: func(a *callArgs) bool { return len(a.filters) == 0 }},
		{name: "null", args: ` null `, check: func(a *callArgs) bool { return len(a.filters) == 0 }},
		{name: "empty object", args: ` { } `, check: func(a *callArgs) bool { return len(a.filters) == 0 && a.limit == 0 }},
		{name: "plain", args: `{"customer_id": 7, "limit": 5, "order_by": "created_at desc", "columns": ["id", "status"]}`,
			check: func(a *callArgs) bool {
				return a.filters["customer_id"].text == "7" && a.limit == 5 && a.order.Value == "created_at desc" && len(a.columns) == 2
			}},
		{name: "duplicate key: the last counts", args: `{"limit": 5, "limit": 7}`, check: func(a *callArgs) bool { return a.limit == 7 }},
		{name: "duplicate key: a bad first value is overwritten", args: `{"limit": "x", "customer_id": 1, "limit": 9}`,
			check: func(a *callArgs) bool { return a.limit == 9 }},
		{name: "duplicate key: a bad last value counts", args: `{"limit": 9, "limit": "x"}`, errText: "limit must be an integer"},
		{name: "duplicate nested key", args: `{"customer_id": {"a": 1, "a": 2}}`, errText: "customer_id must be"},
		{name: "unicode escape in a key", args: `{"\u006cimit": 3, "customer_\u0069d": 4}`,
			check: func(a *callArgs) bool { return a.limit == 3 && a.filters["customer_id"].text == "4" }},
		{name: "escaped key and plain key collide", args: `{"limit": 3, "\u006cimit": 4}`, check: func(a *callArgs) bool { return a.limit == 4 }},
		{name: "escapes in a value", args: `{"note_search": "a\"b\\c\/d\n\u00e9\ud83d\ude00"}`,
			check: func(a *callArgs) bool { return a.filters["note_search"].text == "a\"b\\c/d\né😀" }},
		{name: "lone surrogate becomes U+FFFD", args: `{"note_search": "x\ud800y\udc00"}`,
			check: func(a *callArgs) bool { return a.filters["note_search"].text == "x\uFFFDy\uFFFD" }},
		{name: "high surrogate before a non-surrogate escape", args: `{"note_search": "\ud800\u0041"}`,
			check: func(a *callArgs) bool { return a.filters["note_search"].text == "\uFFFDA" }},
		{name: "NUL escape", args: `{"note_search": "a\u0000b"}`, errText: "without NUL characters"},
		{name: "invalid UTF-8 is replaced", args: "{\"note_search\": \"a\xffb\"}",
			check: func(a *callArgs) bool { return a.filters["note_search"].text == "a\uFFFDb" }},
		{name: "int4 out of range", args: `{"customer_id": 2147483648}`, errText: "out of range for int4"},
		{name: "int64 overflow", args: `{"customer_id": 99999999999999999999}`, errText: "customer_id must be an integer"},
		{name: "limit overflow", args: `{"limit": 99999999999999999999}`, errText: "limit must be an integer"},
		{name: "huge limit is capped", args: `{"limit": 9000000000}`, check: func(a *callArgs) bool { return a.limit == 1<<31 }},
		{name: "exponent", args: `{"customer_id": 1e3}`, errText: "customer_id must be an integer"},
		{name: "exponent out of float range", args: `{"customer_id": 1e400}`, errText: "customer_id must be an integer"},
		{name: "negative zero", args: `{"customer_id": -0}`, check: func(a *callArgs) bool { return a.filters["customer_id"].text == "0" }},
		{name: "fraction for an integer", args: `{"limit": 1.0}`, errText: "limit must be an integer"},
		{name: "leading zero", args: `{"limit": 01}`, errText: "arguments must be a JSON object"},
		{name: "object for a scalar", args: `{"customer_id": {"id": 7}}`, errText: "customer_id must be an integer"},
		{name: "array for a scalar", args: `{"customer_id": [7]}`, errText: "customer_id must be an integer"},
		{name: "object in a list", args: `{"customer_id_in": [1, {"x": [2, {"y": null}]}]}`, errText: "customer_id_in[1] must be an integer"},
		{name: "object among columns", args: `{"columns": ["id", {"b": 1.5, "a": [true]}]}`, errText: "map[a:[true] b:1.5] is not a column"},
		{name: "object for order_by", args: `{"order_by": {"created_at": "desc"}}`, errText: "order_by must be a column"},
		{name: "null value", args: `{"customer_id": null}`, errText: "customer_id is null"},
		{name: "unknown parameter", args: `{"zzz": 1, "aaa": 2}`, errText: `no parameter "aaa"`},
		{name: "array at the top", args: `[1]`, errText: "arguments must be a JSON object"},
		{name: "string at the top", args: `"x"`, errText: "arguments must be a JSON object"},
		{name: "trailing comma", args: `{"limit": 1,}`, errText: "arguments must be a JSON object"},
		{name: "unterminated", args: `{"limit": 1`, errText: "arguments must be a JSON object"},
		{name: "trailing data is ignored", args: `{"limit": 1} {"limit": 2}`, check: func(a *callArgs) bool { return a.limit == 1 }},
		{name: "control character in a string", args: "{\"note_search\": \"a\tb\"}", errText: "arguments must be a JSON object"},
		{name: "bad escape", args: `{"note_search": "\x41"}`, errText: "arguments must be a JSON object"},
		{name: "huge value", args: `{"note_search": "` + big + `"}`, errText: "values are limited to 8192 bytes"},
		{name: "huge key", args: `{"` + big + `": 1}`, errText: "has no parameter"},
		{name: "huge list", args: `{"customer_id_in": ` + longList + `}`, errText: "at most 1000 are accepted"},
		{name: "deep nesting", args: `{"customer_id": ` + deep + `}`, errText: "exceeded max depth"},
		{name: "nesting the scanner follows", args: `{"customer_id": ` + strings.Repeat("[", 60) + strings.Repeat("]", 60) + `}`,
			errText: "customer_id must be an integer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := sameAsReflective(t, spec, []byte(tc.args))
			switch {
			case tc.check == nil && err == nil:
				t.Fatalf("accepted: %+v", a)
			case tc.check == nil && !strings.Contains(err.Error(), tc.errText):
				t.Fatalf("error %q, want one with %q", err, tc.errText)
			case tc.check != nil && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.check != nil && !tc.check(a):
				t.Fatalf("wrong arguments: %+v", a)
			}
			var ae *argError
			if err != nil && !errors.As(err, &ae) {
				t.Fatalf("error %T is not an argument error", err)
			}
		})
	}
}

// TestScanObjectTakesTheUsualCall: the calls clients make are read by the
// scanner, not handed to encoding/json.
func TestScanObjectTakesTheUsualCall(t *testing.T) {
	for _, raw := range []string{
		`{"customer_id_in":[1,2,3],"order_by":"created_at desc","limit":50,"columns":["id","status"]}`,
		`{ "customer_id" : 7 , "note_search" : "gift \"wrap\"" }`,
		`{}`,
	} {
		if _, ok := scanObject([]byte(raw), nil, nil); !ok {
			t.Errorf("%s: not scanned", raw)
		}
	}
}

// FuzzParseArgs holds the scanner to the reflective decoder on any input:
// same arguments, same error text.
func FuzzParseArgs(f *testing.F) {
	for _, seed := range []string{
		`{"customer_id": 7, "limit": 5, "order_by": "created_at desc", "columns": ["id", "status"]}`,
		`{"customer_id_in": [1, 2, 3], "status_in": ["paid"], "created_at_gte": "2024-01-01"}`,
		`{"\u006cimit": 3, "limit": 4, "note_search": "\ud83d\ude00\ud800"}`,
		`{"total_gte": "19.99", "body_search": "a b", "cursor": "x"}`,
		`{"customer_id": {"a": [1, {"b": null}]}, "columns": [{"x": 1e5}]}`,
		`{"limit": -0.5e-3}`, `[]`, `null`, ``, `{"a":1}x`,
	} {
		f.Add([]byte(seed))
	}
	spec, _ := ordersSet(f).Tool("query_orders")
	f.Fuzz(func(t *testing.T, raw []byte) {
		sameAsReflective(t, spec, raw)
	})
}

// BenchmarkParseArgs compares the scanner with the reflective decoder on
// the bench's call.
func BenchmarkParseArgs(b *testing.B) {
	set := ordersSet(b)
	spec, _ := set.Tool("query_orders")
	raw := json.RawMessage(`{"columns":["id","status","total","created_at"],"customer_id_in":[11,12,13],"limit":50,"order_by":"created_at desc"}`)
	for name, parse := range map[string]func(*ToolSpec, json.RawMessage, int) (*callArgs, error){
		"scan": parseArgs, "reflect": reflectParseArgs,
	} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := parse(spec, raw, 0); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
