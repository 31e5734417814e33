package policy

import (
	"unicode/utf16"
	"unicode/utf8"
)

// JSON strings and white space are read in two places: the transcoder reads libpg_query's
// JSON parse trees, and the MCP door reads tool-call arguments without
// reflection. The grammar is the same and policy imports nothing of ours,
// so the one reading lives here and is exported for the other door.

// JSONText is the input a JSON reader walks: a string or a byte slice, so
// that neither caller copies its input to read it.
type JSONText interface{ ~string | ~[]byte }

// SkipJSONSpace returns the index of the first byte at or after src[i]
// that is not JSON white space.
func SkipJSONSpace[T JSONText](src T, i int) int {
	for i < len(src) {
		switch src[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// ReadJSONString reads the JSON string whose opening quote is src[i] and
// returns the index just past its closing quote. A string without escapes
// is returned as unescaped == nil and its value is src[i+1:next-1], for the
// caller to slice without a copy; a string with escapes has them undone
// into unescaped, which is buf[:0] grown as needed (so a caller can reuse
// one buffer). Escapes are undone as encoding/json undoes them: a
// surrogate that is not half of a pair becomes U+FFFD. ok is false for
// anything outside JSON's grammar: no opening or closing quote, a raw
// control character, an unknown escape or a short \u escape. Raw bytes are
// copied as they are; validating UTF-8 is the caller's part.
func ReadJSONString[T JSONText](src T, i int, buf []byte) (next int, unescaped []byte, ok bool) {
	if i >= len(src) || src[i] != '"' {
		return i, nil, false
	}
	for j := i + 1; j < len(src); j++ {
		switch c := src[j]; {
		case c == '"':
			return j + 1, nil, true
		case c == '\\':
			return unescapeJSON(src, j, append(buf[:0], src[i+1:j]...))
		case c < 0x20:
			return j, nil, false
		}
	}
	return len(src), nil, false
}

// unescapeJSON finishes a string from its first backslash at src[i],
// appending its value to out.
func unescapeJSON[T JSONText](src T, i int, out []byte) (int, []byte, bool) {
	for i < len(src) {
		c := src[i]
		switch {
		case c == '"':
			return i + 1, out, true
		case c < 0x20:
			return i, nil, false
		case c != '\\':
			out = append(out, c)
			i++
			continue
		}
		if i+1 >= len(src) {
			return i, nil, false
		}
		e := src[i+1]
		i += 2
		switch e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := jsonHex4(src, i)
			if !ok {
				return i, nil, false
			}
			i += 4
			if utf16.IsSurrogate(r) {
				if pair, ok := jsonLowSurrogate(src, i, r); ok {
					r = pair
					i += 6
				} else {
					r = utf8.RuneError
				}
			}
			out = utf8.AppendRune(out, r)
		default:
			return i, nil, false
		}
	}
	return i, nil, false
}

// jsonHex4 reads the four hex digits of a \u escape at src[i].
func jsonHex4[T JSONText](src T, i int) (rune, bool) {
	if len(src)-i < 4 {
		return 0, false
	}
	var r rune
	for k := i; k < i+4; k++ {
		c := src[k]
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// jsonLowSurrogate reads the \u escape at src[i] when it and the surrogate
// hi make one character; ok false leaves it for the next round.
func jsonLowSurrogate[T JSONText](src T, i int, hi rune) (rune, bool) {
	if len(src)-i < 6 || src[i] != '\\' || src[i+1] != 'u' {
		return 0, false
	}
	lo, ok := jsonHex4(src, i+2)
	if !ok {
		return 0, false
	}
	if r := utf16.DecodeRune(hi, lo); r != utf8.RuneError {
		return r, true
	}
	return 0, false
}
