package policy

import (
	"encoding/binary"
	"strconv"
)

// The shape recognizer reads a statement text as PostgreSQL's lexer
// (scan.l, in both the 15 release the server runs and the 16 grammar
// libpg_query parses with) would, but only for a subset of the language
// on which it is exact; for anything outside the subset it gives up and
// the text takes the full path. README.md ("Shape cache") lists the
// subset and why every refusal is there.

// tokKind classifies a token of the accepted subset.
type tokKind uint8

const (
	tokWord   tokKind = iota + 1 // keyword or unquoted identifier
	tokQIdent                    // "quoted identifier"
	tokOp                        // operator or punctuation of the fixed set
	tokInt                       // ICONST: digits that fit an int32
	tokBigInt                    // FCONST: digits that do not fit an int32
	tokDec                       // FCONST: digits with a decimal point
	tokStr                       // SCONST: '...' with '' doubling
)

func (k tokKind) isConst() bool { return k >= tokInt }

// shapeTok is one token: its kind and byte range in the text.
type shapeTok struct {
	start, end int32
	kind       tokKind
}

// shape is what the recognizer makes of an accepted text: a key that is
// equal for two texts exactly when their token sequences are equal except
// for the values of constants of the same kind, and the constants.
type shape struct {
	key    string
	consts []shapeTok
	toks   []shapeTok // every token; only when asked for (learning)
}

// Lexer character classes (scan.l): op_chars may run together into one
// operator token; self are the one-character tokens.
func isOpChar(c byte) bool {
	switch c {
	case '~', '!', '@', '#', '^', '&', '|', '`', '?', '+', '-', '*', '/', '%', '<', '>', '=':
		return true
	}
	return false
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' }
func isDigit(c byte) bool  { return c >= '0' && c <= '9' }

// isSpace is the whitespace both lexers agree on. PostgreSQL 16 also
// counts \v, which 15 does not: \v is refused.
func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' }

// acceptedOp reports whether a maximal run of op_chars is one token of the
// fixed set. Every other run is refused: it may hold a comment start (--,
// /*), lose a trailing + or - to the lexer's trimming rule (=-, <-), or be
// an operator outside the set.
func acceptedOp(run string) bool {
	switch run {
	case "+", "-", "*", "/", "%", "<", ">", "=", "<=", ">=", "<>", "!=":
		return true
	}
	return false
}

// scanShape recognizes sql. ok is false when the text is outside the
// subset. all asks for every token, not only the constants.
func scanShape(sql string, all bool) (sh shape, ok bool) {
	key := make([]byte, 0, len(sql)+8)
	sh.consts = make([]shapeTok, 0, 8)
	emit := func(kind tokKind, start, end int) {
		t := shapeTok{start: int32(start), end: int32(end), kind: kind}
		if all {
			sh.toks = append(sh.toks, t)
		}
		key = append(key, byte(kind))
		if kind.isConst() {
			sh.consts = append(sh.consts, t)
			return
		}
		key = binary.AppendUvarint(key, uint64(end-start))
		key = append(key, sql[start:end]...)
	}
	n := len(sql)
	for i := 0; i < n; {
		c := sql[i]
		switch {
		case isSpace(c):
			i++
		case isLetter(c):
			j := i + 1
			for j < n && (isLetter(sql[j]) || isDigit(sql[j])) {
				j++
			}
			// $ continues an identifier in scan.l; a quote right after a
			// word may make it a prefix (E'', N'', B'', X'', U&'').
			if j < n && (sql[j] == '$' || sql[j] == '\'' || sql[j] == '"') {
				return shape{}, false
			}
			emit(tokWord, i, j)
			i = j
		case isDigit(c) || c == '.' && i+1 < n && isDigit(sql[i+1]):
			j, kind, good := scanNumber(sql, i)
			if !good {
				return shape{}, false
			}
			emit(kind, i, j)
			i = j
		case c == '\'':
			j, good := scanQuoted(sql, i, '\'')
			if !good {
				return shape{}, false
			}
			// Another string after only whitespace is either one
			// constant continued across a newline or a syntax error:
			// either way not two tokens of the subset.
			k := j
			for k < n && isSpace(sql[k]) {
				k++
			}
			if k < n && sql[k] == '\'' {
				return shape{}, false
			}
			emit(tokStr, i, j)
			i = j
		case c == '"':
			j, good := scanQuoted(sql, i, '"')
			if !good || j-i == 2 { // "" is a zero-length identifier: an error
				return shape{}, false
			}
			emit(tokQIdent, i, j)
			i = j
		case isOpChar(c):
			j := i + 1
			for j < n && isOpChar(sql[j]) {
				j++
			}
			if !acceptedOp(sql[i:j]) {
				return shape{}, false
			}
			emit(tokOp, i, j)
			i = j
		case c == ',' || c == '(' || c == ')' || c == '[' || c == ']' || c == ';':
			emit(tokOp, i, i+1)
			i++
		case c == '.':
			// Not followed by a digit (that is a number, above); ".." is
			// DOT_DOT.
			if i+1 < n && sql[i+1] == '.' {
				return shape{}, false
			}
			emit(tokOp, i, i+1)
			i++
		case c == ':':
			// Only "::". ":" alone, ":=" and ":::" are refused.
			if i+1 >= n || sql[i+1] != ':' || i+2 < n && (sql[i+2] == ':' || sql[i+2] == '=') {
				return shape{}, false
			}
			emit(tokOp, i, i+2)
			i += 2
		default:
			// $ (parameters, dollar quotes), \, {, }, control characters,
			// NUL and every byte of a non-ASCII character.
			return shape{}, false
		}
	}
	sh.key = string(key)
	return sh, true
}

// scanNumber reads an integer or decimal starting at i: digits, or digits
// with one decimal point ("1.5", "1.", ".5"). The character after it must
// end the token for both lexers: a letter, digit, _ or $ would be an
// exponent (1e5), a PostgreSQL 16 literal (0x1F, 1_000) or trailing junk
// (an error in 15, an alias in 14); a point would be "1..2" or "1.5.";
// a quote would start a string glued to the number.
func scanNumber(sql string, i int) (end int, kind tokKind, ok bool) {
	n := len(sql)
	j := i
	for j < n && isDigit(sql[j]) {
		j++
	}
	kind = tokInt
	if j < n && sql[j] == '.' {
		kind = tokDec
		j++
		for j < n && isDigit(sql[j]) {
			j++
		}
	}
	if j < n {
		if c := sql[j]; isLetter(c) || isDigit(c) || c == '$' || c == '.' || c == '\'' || c == '"' {
			return 0, 0, false
		}
	}
	if kind == tokInt {
		if _, err := strconv.ParseInt(sql[i:j], 10, 32); err != nil {
			kind = tokBigInt // the lexer's process_integer_literal makes it FCONST
		}
	}
	return j, kind, true
}

// scanQuoted reads a '...' string or "..." identifier starting at the
// quote at i, with the quote doubled inside. A backslash inside a string is
// refused, so the text means the same whatever standard_conforming_strings
// says. It returns the index after the closing quote.
func scanQuoted(sql string, i int, q byte) (int, bool) {
	n := len(sql)
	for j := i + 1; j < n; j++ {
		c := sql[j]
		switch {
		case c == q:
			if j+1 < n && sql[j+1] == q {
				j++
				continue
			}
			return j + 1, true
		case c == 0 || c >= 0x80 || c == '\\' && q == '\'':
			return 0, false
		}
	}
	return 0, false // unterminated
}

// constValue returns the value PostgreSQL gives constant t: a string's
// content with ” undone, an integer's digits without leading zeros
// (as %d prints the int32), and a decimal's or big integer's text as
// written (FCONST keeps its text).
func constValue(sql string, t shapeTok) string {
	s := sql[t.start:t.end]
	switch t.kind {
	case tokStr:
		return unquote(s[1:len(s)-1], '\'')
	case tokInt:
		for len(s) > 1 && s[0] == '0' {
			s = s[1:]
		}
	}
	return s
}

// constPrinted is how libpg_query's deparser prints constant t in an
// expression: %d of an integer, the text of a decimal, and a string
// through deparseStringLiteral, which doubles quotes back (no E” as
// there is no backslash) and so gives the token as written.
func constPrinted(sql string, t shapeTok) string {
	if t.kind == tokInt {
		return constValue(sql, t)
	}
	return sql[t.start:t.end]
}

func unquote(s string, q byte) string {
	for i := 0; i < len(s); i++ {
		if s[i] == q {
			b := make([]byte, 0, len(s))
			for j := 0; j < len(s); j++ {
				b = append(b, s[j])
				if s[j] == q {
					j++ // skip the doubling
				}
			}
			return string(b)
		}
	}
	return s
}
