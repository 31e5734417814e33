package mcp

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"

	"github.com/pgmoat/pgmoat/policy"
)

// argPair is one member of a call's arguments object: its name and its
// value as encoding/json decodes into an interface (string, json.Number,
// bool, nil, []any, map[string]any), so validation sees exactly what the
// reflective decoder would give it.
type argPair struct {
	name  string
	value any
}

// maxScanDepth bounds the nesting the scanner follows; deeper input goes
// to the reflective decoder, which has its own bound and error.
const maxScanDepth = 64

// scanObject reads raw, which must be one JSON object and nothing after
// it but white space, into its members in the order they appear (a
// repeated name appears twice). It reads the bytes directly: no
// reflection, no decoder state, one allocation per name and per
// non-trivial value. ok is false for anything else (a syntax error,
// another kind of value, trailing data, invalid UTF-8, deep nesting): the
// reflective decoder then decides and words the error, so what is
// accepted and what is said stays the same.
//
// want, when not nil, picks the members whose values are decoded; the
// others are checked and skipped, and carry a nil value.
func scanObject(raw []byte, buf []argPair, want func(name string) bool) (pairs []argPair, ok bool) {
	s := argScanner{b: raw}
	pairs = buf[:0]
	ok = s.top(func(name string) bool {
		s.discard = want != nil && !want(name)
		v, ok := s.value(1)
		s.discard = false
		pairs = append(pairs, argPair{name, v})
		return ok
	})
	if !ok {
		return nil, false
	}
	return pairs, true
}

// argScanner is a position in a JSON text.
type argScanner struct {
	b []byte
	i int
	// discard checks values without building them (no allocation); str
	// then returns "".
	discard bool
	// scratch holds a string's bytes while its escapes are undone.
	scratch []byte
}

func (s *argScanner) peek(c byte) bool { return s.i < len(s.b) && s.b[s.i] == c }

// end says whether only white space is left.
func (s *argScanner) end() bool {
	s.space()
	return s.i == len(s.b)
}

func (s *argScanner) space() { s.i = policy.SkipJSONSpace(s.b, s.i) }

func (s *argScanner) value(depth int) (any, bool) {
	s.space()
	if s.i >= len(s.b) || depth > maxScanDepth {
		return nil, false
	}
	switch c := s.b[s.i]; {
	case c == '"':
		return s.str()
	case c == '{':
		return s.object(depth)
	case c == '[':
		return s.array(depth)
	case c == 't':
		return true, s.word("true")
	case c == 'f':
		return false, s.word("false")
	case c == 'n':
		return nil, s.word("null")
	case c == '-' || c >= '0' && c <= '9':
		return s.number()
	}
	return nil, false
}

func (s *argScanner) word(w string) bool {
	if len(s.b)-s.i < len(w) || string(s.b[s.i:s.i+len(w)]) != w {
		return false
	}
	s.i += len(w)
	return true
}

// object reads a nested object as encoding/json does into an interface:
// a map, a repeated name keeping its last value.
func (s *argScanner) object(depth int) (any, bool) {
	var m map[string]any
	if !s.discard {
		m = map[string]any{}
	}
	ok := s.members(func(name string) bool {
		v, ok := s.value(depth + 1)
		if ok && m != nil {
			m[name] = v
		}
		return ok
	})
	if !ok {
		return nil, false
	}
	return m, true
}

// top reads the whole of s, which must be one object (valid UTF-8, white
// space around it and nothing else), calling member for each of its
// members as members does.
func (s *argScanner) top(member func(name string) bool) bool {
	if !utf8.Valid(s.b) {
		return false
	}
	s.space()
	return s.peek('{') && s.members(member) && s.end()
}

// members reads an object from its '{' to its '}', calling member after
// each name and its colon to read that member's value; member's false, or
// anything out of JSON's grammar, makes it false. It is the one loop the
// arguments object, its raw members and nested objects share.
func (s *argScanner) members(member func(name string) bool) bool {
	s.i++
	s.space()
	if s.peek('}') {
		s.i++
		return true
	}
	for {
		s.space()
		name, ok := s.str()
		if !ok {
			return false
		}
		s.space()
		if !s.peek(':') {
			return false
		}
		s.i++
		if !member(name) {
			return false
		}
		if more, ok := s.after('}'); !more {
			return ok
		}
	}
}

// after reads what follows an element of an object or array that end
// closes: a comma, more is to come; end, the last was read (ok); anything
// else is out of the grammar.
func (s *argScanner) after(end byte) (more, ok bool) {
	s.space()
	switch {
	case s.peek(','):
		s.i++
		return true, true
	case s.peek(end):
		s.i++
		return false, true
	}
	return false, false
}

func (s *argScanner) array(depth int) (any, bool) {
	s.i++
	var list []any
	if !s.discard {
		list = []any{}
	}
	s.space()
	if s.peek(']') {
		s.i++
		return list, true
	}
	for {
		v, ok := s.value(depth + 1)
		if !ok {
			return nil, false
		}
		if !s.discard {
			list = append(list, v)
		}
		if more, ok := s.after(']'); !more {
			if !ok {
				return nil, false
			}
			return list, true
		}
	}
}

// number reads a number in JSON's grammar and keeps its text, as
// json.Decoder.UseNumber does.
func (s *argScanner) number() (any, bool) {
	start := s.i
	if s.peek('-') {
		s.i++
	}
	switch {
	case s.peek('0'):
		s.i++
	case s.digits() == 0:
		return nil, false
	}
	if s.peek('.') {
		s.i++
		if s.digits() == 0 {
			return nil, false
		}
	}
	if s.peek('e') || s.peek('E') {
		s.i++
		if s.peek('+') || s.peek('-') {
			s.i++
		}
		if s.digits() == 0 {
			return nil, false
		}
	}
	if s.discard {
		return nil, true
	}
	return json.Number(s.b[start:s.i]), true
}

func (s *argScanner) digits() int {
	n := 0
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
		n++
	}
	return n
}

// str reads a string (policy.ReadJSONString). The input is known to be
// valid UTF-8, so raw bytes are copied as they are.
func (s *argScanner) str() (string, bool) {
	next, unescaped, ok := policy.ReadJSONString(s.b, s.i, s.scratch)
	if !ok {
		return "", false
	}
	if unescaped != nil {
		s.scratch = unescaped[:0]
	}
	v := ""
	switch {
	case s.discard:
	case unescaped != nil:
		v = string(unescaped)
	default:
		v = string(s.b[s.i+1 : next-1])
	}
	s.i = next
	return v, true
}

// EachArgument calls fn with each member of a tool call's arguments
// object, sorted by name and each name once, the last value winning:
// the arguments exactly as pgmoat reads them (parseArgs). The value of a
// name want accepts is as encoding/json decodes it into an interface,
// numbers as json.Number; any other value is skipped without being
// built and passed as nil. It returns false, calling fn for nothing,
// when raw is empty, null or not an object. Loggers use it to redact a
// call's arguments without decoding them into a map.
func EachArgument(raw json.RawMessage, want func(name string) bool, fn func(name string, value any)) bool {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return false
	}
	var buf [8]argPair
	pairs, ok := scanObject(raw, buf[:0], want)
	if ok {
		pairs = lastByName(pairs)
	} else {
		obj, err := decodeObject(raw)
		if err != nil {
			return false
		}
		pairs = make([]argPair, 0, len(obj))
		for _, name := range sortedKeys(obj) {
			pairs = append(pairs, argPair{name, obj[name]})
		}
	}
	for _, p := range pairs {
		if want != nil && !want(p.name) {
			p.value = nil
		}
		fn(p.name, p.value)
	}
	return true
}

// rawMember is a member of an object: its name and its value's text.
type rawMember struct {
	name  string
	value []byte
}

// scanMembers reads raw, which must be one JSON object and nothing after
// it but white space, into its members in order, each value as its text
// (checked, not decoded). ok is false for anything else, as scanObject.
func scanMembers(raw []byte, buf []rawMember) (members []rawMember, ok bool) {
	s := argScanner{b: raw}
	members = buf[:0]
	ok = s.top(func(name string) bool {
		s.space()
		start := s.i
		s.discard = true
		_, ok := s.value(1)
		s.discard = false
		members = append(members, rawMember{name, raw[start:s.i]})
		return ok
	})
	if !ok {
		return nil, false
	}
	return members, true
}
