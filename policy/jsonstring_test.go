package policy

import (
	"encoding/json"
	"testing"
	"unicode/utf8"
)

// checkReadJSONString reads text, from a string and from bytes, and
// wants what encoding/json makes of it: the same value, or an error where
// it has one.
func checkReadJSONString(t *testing.T, text string) {
	t.Helper()
	var want string
	wantErr := json.Unmarshal([]byte(text), &want) != nil
	for _, name := range []string{"string", "bytes"} {
		var next int
		var unescaped []byte
		var ok bool
		if name == "string" {
			next, unescaped, ok = ReadJSONString(text, 0, nil)
		} else {
			next, unescaped, ok = ReadJSONString([]byte(text), 0, make([]byte, 0, 4))
		}
		if ok && next != len(text) {
			ok = false // trailing bytes: encoding/json refuses them too
		}
		if ok == wantErr {
			t.Errorf("%s %q: ok %v, encoding/json error %v", name, text, ok, wantErr)
			continue
		}
		if !ok {
			continue
		}
		got := text[1 : next-1]
		if unescaped != nil {
			got = string(unescaped)
		}
		if got != want {
			t.Errorf("%s %q: read %q, encoding/json %q", name, text, got, want)
		}
	}
}

func TestReadJSONStringAgreesWithEncodingJSON(t *testing.T) {
	for _, text := range []string{
		`""`, `"plain"`, `"é😀"`, `"a\"b"`, `"\\\/\b\f\n\r\t"`,
		`"\u00e9"`, `"\u00E9x"`, `"\ud83d\ude00"`, `"\ud83dx"`, `"\ude00"`,
		`"\ud83d\u0041"`, `"\ud83d\ud83d\ude00"`, `"\ud83d\`, `"\ud83d\u12"`,
		`"\u12"`, `"\u12g4"`, `"\x"`, `"tab	in"`, "\"nl\nin\"", `"open`,
		`"esc open\n`, `"\`, `x"`, ``, `"\u0000"`,
	} {
		checkReadJSONString(t, text)
	}
}

func TestReadJSONStringStartsAtTheGivenQuote(t *testing.T) {
	src := `{"name": "a\tb", "x": "y"}`
	next, unescaped, ok := ReadJSONString(src, 9, nil)
	if !ok || string(unescaped) != "a\tb" || src[next:] != `, "x": "y"}` {
		t.Fatalf("next %d (%q), unescaped %q, ok %v", next, src[next:], unescaped, ok)
	}
	next, unescaped, ok = ReadJSONString(src, 22, nil)
	if !ok || unescaped != nil || src[23:next-1] != "y" {
		t.Fatalf("next %d, unescaped %q, ok %v", next, unescaped, ok)
	}
	if _, _, ok := ReadJSONString(src, 8, nil); ok {
		t.Fatal("read a string at a space")
	}
}

func FuzzReadJSONString(f *testing.F) {
	for _, s := range []string{`"a\u00e9"`, `"\ud83d\ude00"`, `"\ud83d"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		if !utf8.ValidString(text) {
			t.Skip("validating UTF-8 is the caller's part")
		}
		checkReadJSONString(t, text)
	})
}

func TestSkipJSONSpace(t *testing.T) {
	for _, c := range []struct {
		src  string
		i    int
		want int
	}{
		{" \t\r\n x", 0, 5}, {"x ", 0, 0}, {"a  ", 1, 3}, {"", 0, 0}, {"\v", 0, 0},
	} {
		if got := SkipJSONSpace(c.src, c.i); got != c.want {
			t.Errorf("SkipJSONSpace(%q, %d) = %d, want %d", c.src, c.i, got, c.want)
		}
		if got := SkipJSONSpace([]byte(c.src), c.i); got != c.want {
			t.Errorf("SkipJSONSpace([]byte(%q), %d) = %d, want %d", c.src, c.i, got, c.want)
		}
	}
}
