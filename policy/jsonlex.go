package policy

import "strconv"

// The JSON lexing the transcoder needs: libpg_query's output is plain JSON
// of objects, arrays, strings, integers and booleans.

func (t *transcoder) space() { t.pos = SkipJSONSpace(t.src, t.pos) }

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
	t.space()
	var buf [64]byte // escapes are undone on the stack when they fit
	next, unescaped, ok := ReadJSONString(t.src, t.pos, buf[:0])
	if !ok {
		return "", errJSON
	}
	s := t.src[t.pos+1 : next-1]
	if unescaped != nil {
		s = string(unescaped)
	}
	t.pos = next
	return s, nil
}
