package policy

import (
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// The JSON lexing the transcoder needs: libpg_query's output is plain JSON
// of objects, arrays, strings, integers and booleans.

func (t *transcoder) space() {
	for t.pos < len(t.src) {
		switch t.src[t.pos] {
		case ' ', '\t', '\n', '\r':
			t.pos++
		default:
			return
		}
	}
}

func (t *transcoder) eat(c byte) bool {
	t.space()
	if t.pos < len(t.src) && t.src[t.pos] == c {
		t.pos++
		return true
	}
	return false
}

func (t *transcoder) word(w string) bool {
	if len(t.src)-t.pos >= len(w) && t.src[t.pos:t.pos+len(w)] == w {
		t.pos += len(w)
		return true
	}
	return false
}

func (t *transcoder) key() (string, error) {
	k, err := t.str()
	if err != nil {
		return "", err
	}
	if !t.eat(':') {
		return "", errJSON
	}
	return k, nil
}

func (t *transcoder) integer() (int64, error) {
	t.space()
	start := t.pos
	if t.pos < len(t.src) && t.src[t.pos] == '-' {
		t.pos++
	}
	for t.pos < len(t.src) && t.src[t.pos] >= '0' && t.src[t.pos] <= '9' {
		t.pos++
	}
	n, err := strconv.ParseInt(t.src[start:t.pos], 10, 64)
	if err != nil {
		return 0, errJSON
	}
	return n, nil
}

// str reads a JSON string. Without escapes it is a substring of the
// input: no copy.
func (t *transcoder) str() (string, error) {
	if !t.eat('"') {
		return "", errJSON
	}
	start := t.pos
	for t.pos < len(t.src) {
		switch t.src[t.pos] {
		case '"':
			s := t.src[start:t.pos]
			t.pos++
			return s, nil
		case '\\':
			return t.escaped(start)
		}
		t.pos++
	}
	return "", errJSON
}

// escaped finishes a string that contains backslash escapes.
func (t *transcoder) escaped(start int) (string, error) {
	b := []byte(t.src[start:t.pos])
	for t.pos < len(t.src) {
		c := t.src[t.pos]
		switch {
		case c == '"':
			t.pos++
			return string(b), nil
		case c != '\\':
			b = append(b, c)
			t.pos++
			continue
		}
		if t.pos+1 >= len(t.src) {
			return "", errJSON
		}
		e := t.src[t.pos+1]
		t.pos += 2
		switch e {
		case '"', '\\', '/':
			b = append(b, e)
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			r, ok := t.hex4()
			if !ok {
				return "", errJSON
			}
			if utf16.IsSurrogate(r) {
				if !t.word(`\u`) {
					return "", errJSON
				}
				r2, ok := t.hex4()
				if !ok {
					return "", errJSON
				}
				r = utf16.DecodeRune(r, r2)
			}
			b = utf8.AppendRune(b, r)
		default:
			return "", errJSON
		}
	}
	return "", errJSON
}

func (t *transcoder) hex4() (rune, bool) {
	if len(t.src)-t.pos < 4 {
		return 0, false
	}
	v, err := strconv.ParseUint(t.src[t.pos:t.pos+4], 16, 32)
	if err != nil {
		return 0, false
	}
	t.pos += 4
	return rune(v), true
}
