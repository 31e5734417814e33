package policy

import (
	"strings"
	"testing"

	pg_query "github.com/pganalyze/pg_query_go/v5"
)

// shapeScanCases are the recognizer's decisions on the lexer's edge cases.
// want lists the token kinds of an accepted text, one letter per token
// (w word, q quoted identifier, o operator, i integer, b big integer,
// d decimal, s string); "" means the text must be refused.
var shapeScanCases = []struct {
	sql, want string
}{
	{"SELECT abalance FROM pgbench_accounts WHERE aid = 12345;", "wwwwwwoio"},
	{"select 1", "wi"},
	{"SELECT 'a''b'", "ws"},
	{"SELECT ''", "ws"},
	{"SELECT '''' ", "ws"},
	{`SELECT "Col""x" FROM "T"`, "wqwq"},
	{"SELECT 1.5, .5, 5., 007", "wdododoi"},
	{"SELECT 2147483647, 2147483648, 99999999999999999999", "wiobob"},
	{"SELECT a<=b, a>=b, a<>b, a!=b, a<b, a>b, a=b", "wwowowowowowowowowowowowowow"},
	{"SELECT 1+2-3*4/5%6", "wioioioioioi"},
	{"SELECT x::int, t.c, a[1]", "wwowowowowoio"},
	{"SELECT (1)", "woio"},
	{"SELECT date '2020-01-01'", "wws"},
	{"SELECT t.5", "wwd"},
	{"\tSELECT\r\n1\f", "wi"},
	{"SELECT 1; SELECT 2", "wiowi"},
	{"SELECT 'multi\nline'", "ws"},
	{"SELECT 'a'b", "wsw"},
	{"SELECT 'x'::regclass", "wsow"},

	// Comments, in all their forms.
	{"SELECT 1 -- c", ""},
	{"SELECT 1 /* c */", ""},
	{"SELECT 1--c", ""},
	{"SELECT 1 */", ""},
	{"SELECT a-/**/b", ""},
	// Dollar quotes, parameters, identifiers with $.
	{"SELECT $$x$$", ""},
	{"SELECT $a$x$a$", ""},
	{"SELECT $1", ""},
	{"SELECT a$b", ""},
	{"SELECT a$", ""},
	// String prefixes.
	{"SELECT E'x'", ""},
	{"SELECT e'\\n'", ""},
	{"SELECT N'x'", ""},
	{"SELECT B'101'", ""},
	{"SELECT X'1F'", ""},
	{"SELECT U&'d\\0061t'", ""},
	{`SELECT U&"x"`, ""},
	{"SELECT u&'x' UESCAPE '!'", ""},
	{`SELECT a"b"`, ""},
	// Backslashes: standard_conforming_strings would matter.
	{"SELECT 'a\\'", ""},
	{"SELECT 'a\\'' '", ""},
	{"SELECT \\", ""},
	// Non-ASCII, NUL, \v, other control characters.
	{"SELECT 'é'", ""},
	{"SELECT é", ""},
	{`SELECT "é"`, ""},
	{"SELECT\u00a01", ""},
	{"SELECT '\x00'", ""},
	{"SELECT\v1", ""},
	{"SELECT\x011", ""},
	// Numbers the lexers read differently or refuse.
	{"SELECT 1e5", ""},
	{"SELECT 1.e5", ""},
	{"SELECT 1.5e-3", ""},
	{"SELECT 1..2", ""},
	{"SELECT 1.5.", ""},
	{"SELECT 1abc", ""},
	{"SELECT 1_000", ""},
	{"SELECT 0x1F", ""},
	{"SELECT 0o17", ""},
	{"SELECT 0b101", ""},
	{"SELECT 1'a'", ""},
	{`SELECT 1"a"`, ""},
	{"SELECT 1$", ""},
	{"SELECT .5.", ""},
	// String continuation across a newline, and strings side by side.
	{"SELECT 'a'\n'b'", ""},
	{"SELECT 'a' 'b'", ""},
	{"SELECT 'a'\r\n  'b'", ""},
	{"SELECT 'a'", "ws"},
	// Unterminated quotes; empty quoted identifier.
	{"SELECT 'a", ""},
	{`SELECT "a`, ""},
	{`SELECT ""`, ""},
	// Operator runs the lexer splits or that are outside the set.
	{"SELECT a=-1", ""},
	{"SELECT a<-1", ""},
	{"SELECT 1+-2", ""},
	{"SELECT a=>1", ""},
	{"SELECT a||b", ""},
	{"SELECT a@>b", ""},
	{"SELECT ~a", ""},
	{"SELECT a^2", ""},
	{"SELECT a#b", ""},
	{"SELECT a?b", ""},
	{"SELECT `a`", ""},
	{"SELECT a & b", ""},
	{"SELECT a | b", ""},
	// Colons and points.
	{"SELECT a:b", ""},
	{"SELECT a := 1", ""},
	{"SELECT a:::int", ""},
	{"SELECT a::=1", ""},
	{"SELECT a..b", ""},
	// Other characters.
	{"SELECT {1}", ""},
	{"SELECT ARRAY[1]", "wwoio"},
	// More of the lexer's corners: numbers and points side by side,
	// doubled quotes at the edges, whitespace the lexers agree on,
	// operator runs that end in a sign, slices, long names.
	{"SELECT 1.5.5", ""},
	{"SELECT 1e", ""},
	{"SELECT 1e+5", ""},
	{"SELECT .5e1", ""},
	{"SELECT 1_", ""},
	{"SELECT 5.::int", "wdow"},
	{"SELECT x.1", "wwd"},
	{"SELECT a. b", "wwow"},
	{"SELECT 1 . 5", "wioi"},
	{"SELECT 00, 1., 0002147483648, 00000000000000000000000000001", "wiodoboi"},
	{"SELECT 'a'\f'b'", ""},
	{"SELECT 'a'\r'b'", ""},
	{"SELECT 'a'\t\t'b'", ""},
	{`SELECT """"`, "wq"},
	{`SELECT "a""b"""`, "wq"},
	{`SELECT "x"'a'`, "wqs"},
	{"SELECT 'x'\n\t, 'y'", "wsos"},
	{"SELECT a!=-1", ""},
	{"SELECT a<>-1", ""},
	{"SELECT a*-1", ""},
	{"SELECT a%-1", ""},
	{"SELECT a>=+1", ""},
	{"SELECT a-/2", ""},
	{"SELECT x[1:2]", ""},
	{"SELECT $1::int", ""},
	{"SELECT " + strings.Repeat("a", 70) + ", " + strings.Repeat("a", 63) + "b", "wwow"},
}

func shapeKinds(sh shape) string {
	var b strings.Builder
	for _, t := range sh.toks {
		b.WriteByte(" wqoibds"[t.kind])
	}
	return b.String()
}

func TestShapeScanCases(t *testing.T) {
	for _, c := range shapeScanCases {
		sh, ok := scanShape(c.sql, true)
		got := ""
		if ok {
			got = shapeKinds(sh)
		}
		if got != c.want {
			t.Errorf("scanShape(%q) = %q, want %q", c.sql, got, c.want)
		}
		if ok {
			if err := agreesWithScanner(c.sql, sh); err != "" {
				t.Errorf("%q: %s", c.sql, err)
			}
		}
	}
}

// TestShapeKeyIgnoresOnlyConstantValues: equal keys for texts that differ
// in constant values and whitespace only; different keys for anything
// else, including a constant's kind.
func TestShapeKeyIgnoresOnlyConstantValues(t *testing.T) {
	same := [][2]string{
		{"SELECT a FROM t WHERE id = 1", "SELECT a FROM t WHERE id = 2147483647"},
		{"SELECT 'x', 1.5", "SELECT  'it''s' ,\n.25"},
		{"SELECT 99999999999", "SELECT 2147483648"},
	}
	differ := [][2]string{
		{"SELECT 1", "SELECT 2147483648"},    // ICONST against FCONST
		{"SELECT 1", "SELECT 1.0"},           // integer against decimal
		{"SELECT 1", "SELECT '1'"},           // number against string
		{"SELECT a", "SELECT A"},             // words are kept as written
		{`SELECT "a"`, "SELECT a"},           // quoted against plain
		{"SELECT a < = b", "SELECT a <= b"},  // two tokens against one
		{"SELECT a <> b", "SELECT a != b"},   // kept as written
		{"SELECT 1 , 2", "SELECT 1 , 2 , 3"}, // token count
		{"SELECT ab", "SELECT a b"},          // token boundaries
		{`SELECT "a b"`, `SELECT "a" "b"`},   // quoted contents
		{"SELECT 1.5", "SELECT 1 .5"},        // one decimal against two numbers
		{"SELECT x.y", "SELECT x .y"},        // same tokens: equal (below)
	}
	for _, p := range same {
		a, _ := scanShape(p[0], false)
		b, _ := scanShape(p[1], false)
		if a.key == "" || a.key != b.key {
			t.Errorf("%q and %q: keys differ", p[0], p[1])
		}
	}
	for _, p := range differ[:len(differ)-1] {
		a, oka := scanShape(p[0], false)
		b, okb := scanShape(p[1], false)
		if !oka || !okb || a.key == b.key {
			t.Errorf("%q and %q: keys equal (or refused)", p[0], p[1])
		}
	}
	last := differ[len(differ)-1]
	a, _ := scanShape(last[0], false)
	b, _ := scanShape(last[1], false)
	if a.key != b.key {
		t.Errorf("%q and %q lex to the same tokens but keys differ", last[0], last[1])
	}
}

// agreesWithScanner checks an accepted text's tokens against libpg_query's
// own scanner: the same tokens at the same places, of matching kinds.
func agreesWithScanner(sql string, sh shape) string {
	res, err := pg_query.Scan(sql)
	if err != nil {
		return "accepted, but the scanner fails: " + err.Error()
	}
	if len(res.Tokens) != len(sh.toks) {
		return "token count differs from the scanner's"
	}
	for i, pt := range res.Tokens {
		t := sh.toks[i]
		text := sql[t.start:t.end]
		if pt.Start != t.start || pt.End != t.end {
			return "token " + text + " is not where the scanner puts it"
		}
		if !kindMatches(t.kind, text, pt) {
			return "token " + text + " is " + pt.Token.String() + " to the scanner"
		}
	}
	return ""
}

func kindMatches(k tokKind, text string, pt *pg_query.ScanToken) bool {
	switch k {
	case tokWord:
		return pt.Token == pg_query.Token_IDENT || pt.KeywordKind != pg_query.KeywordKind_NO_KEYWORD
	case tokQIdent:
		return pt.Token == pg_query.Token_IDENT
	case tokInt:
		return pt.Token == pg_query.Token_ICONST
	case tokBigInt, tokDec:
		return pt.Token == pg_query.Token_FCONST
	case tokStr:
		return pt.Token == pg_query.Token_SCONST
	}
	switch text {
	case "<=":
		return pt.Token == pg_query.Token_LESS_EQUALS
	case ">=":
		return pt.Token == pg_query.Token_GREATER_EQUALS
	case "<>", "!=":
		return pt.Token == pg_query.Token_NOT_EQUALS
	case "::":
		return pt.Token == pg_query.Token_TYPECAST
	}
	return len(text) == 1 && int32(pt.Token) == int32(text[0])
}

// FuzzShapeScan checks every text the recognizer accepts against the
// scanner of libpg_query (the PostgreSQL 16 lexer): an oracle rather
// than a list of cases.
func FuzzShapeScan(f *testing.F) {
	for _, c := range shapeScanCases {
		f.Add(c.sql)
	}
	f.Fuzz(func(t *testing.T, sql string) {
		sh, ok := scanShape(sql, true)
		if !ok {
			return
		}
		if err := agreesWithScanner(sql, sh); err != "" {
			t.Fatalf("%q: %s", sql, err)
		}
	})
}
