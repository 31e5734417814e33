package policy

import (
	"fmt"
	"strings"
	"unicode/utf8"

	pg_query "github.com/pganalyze/pg_query_go/v5"
	"github.com/pganalyze/pg_query_go/v5/parser"
	"google.golang.org/protobuf/encoding/protowire"
)

// Input limits.
const (
	// DefaultMaxStatementBytes caps the text handed to the parser.
	DefaultMaxStatementBytes = 1 << 20
	// DefaultMaxDepth caps the parse-tree nesting the walker follows,
	// counted in protobuf messages (about two per SQL nesting level).
	DefaultMaxDepth = 1000
	// shallowBytes is the length below which no text can nest deeper
	// than the parser survives: every level of a left-deep expression
	// costs at least two bytes ("1+1+1..."), and right-deep ones are
	// capped by the parser's own stack.
	shallowBytes = 2000
	// maxNestingTokens bounds the tokens that can open a nesting level in
	// longer texts. libpg_query recurses in C while building its output
	// and overflows the thread stack somewhere past 20,000 levels; this
	// keeps a wide margin.
	maxNestingTokens = 4000
)

// checkInput rejects text the parser must not see: it would truncate at a
// NUL byte (C strings), misread invalid UTF-8, or recurse until the process
// dies on a deeply nested expression.
func checkInput(sql string, maxBytes int, n *nums) *denial {
	switch {
	case strings.TrimSpace(sql) == "":
		d := deny(RuleInput, "empty statement")
		d.kind = KindEmpty
		return d
	case len(sql) > maxBytes:
		return deny(RuleInput, fmt.Sprintf("statement is %d bytes; the limit is %d", len(sql), maxBytes))
	case strings.IndexByte(sql, 0) >= 0:
		return deny(RuleInput, "statement contains a NUL byte")
	case !utf8.ValidString(sql):
		return deny(RuleInput, "statement is not valid UTF-8")
	}
	if len(sql) <= shallowBytes {
		return nil
	}
	count, err := nestingTokens(sql, n)
	if err != nil {
		return &denial{state: SQLStateSyntax, rule: RuleParse, reason: err.Error()}
	}
	if count > maxNestingTokens {
		return deny(RuleDepth, fmt.Sprintf("statement has %d operators, parentheses and keywords; the limit is %d", count, maxNestingTokens))
	}
	return nil
}

// nestingTokens counts the tokens of sql that can deepen the parse tree:
// everything but names, literals, parameters, separators, closing brackets
// and comments. It over-counts (SELECT and FROM are keywords) and so bounds
// the depth from above, using the real scanner rather than a guess at
// PostgreSQL's lexical rules.
func nestingTokens(sql string, nums *nums) (int, error) {
	pb, err := parser.ScanToProtobuf(sql)
	if err != nil {
		return 0, err
	}
	// Tokens are read in place: collecting them first (allBytes) cost
	// about 120 MB of garbage for a 1 MiB text of a million tokens.
	n := 0
	err = eachField(pb, func(f pbField) error {
		if f.num == nums.scanTokens && f.typ == protowire.BytesType {
			if countsForNesting(pg_query.Token(findVarint(f.bytes, nums.scanTokenKind))) {
				n++
			}
		}
		return nil
	})
	return n, err
}

func countsForNesting(t pg_query.Token) bool {
	switch t {
	case pg_query.Token_IDENT, pg_query.Token_UIDENT, pg_query.Token_SCONST,
		pg_query.Token_USCONST, pg_query.Token_ICONST, pg_query.Token_FCONST,
		pg_query.Token_BCONST, pg_query.Token_XCONST, pg_query.Token_PARAM,
		pg_query.Token_ASCII_44, pg_query.Token_ASCII_59, pg_query.Token_ASCII_41,
		pg_query.Token_ASCII_93, pg_query.Token_SQL_COMMENT, pg_query.Token_C_COMMENT:
		return false
	}
	return true
}
