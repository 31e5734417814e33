package policy

import (
	"fmt"
	"strings"
	"unicode/utf8"

	pg_query "github.com/pganalyze/pg_query_go/v5"
	"github.com/pganalyze/pg_query_go/v5/parser"
)

// Split cuts a script into statements at top-level semicolons, using
// PostgreSQL's own grammar (so semicolons in strings, dollar quotes,
// comments and BEGIN ATOMIC bodies do not split). When the grammar cannot
// parse the script it cuts at the semicolon tokens of PostgreSQL's
// scanner instead, so one bad statement neither hides the others nor
// disappears: it is judged, and denied, on its own. (pg_query's own
// scanner-based splitter drops statements it cannot read, which would let
// a check pass that should fail.)
func Split(script string) ([]string, error) {
	switch {
	case strings.TrimSpace(script) == "":
		return nil, nil
	case strings.IndexByte(script, 0) >= 0:
		return nil, fmt.Errorf("policy: cannot split: the script contains a NUL byte")
	case !utf8.ValidString(script):
		return nil, fmt.Errorf("policy: cannot split: the script is not valid UTF-8")
	}
	parts, err := parser.SplitWithParser(script, true)
	if err == nil {
		return nonEmpty(parts), nil
	}
	return splitAtSemicolons(script), nil
}

// splitAtSemicolons cuts at the scanner's top-level ";" tokens. Text the
// scanner cannot read stays in one piece, to be denied as a parse error.
func splitAtSemicolons(script string) []string {
	pb, err := parser.ScanToProtobuf(script)
	if err != nil {
		return nonEmpty([]string{strings.TrimSpace(script)})
	}
	var parts []string
	start, hasCode := 0, false
	for _, tok := range allBytes(pb, 2) { // ScanResult.tokens
		t := pg_query.Token(findVarint(tok, 4))
		switch t {
		case pg_query.Token_ASCII_59:
			if hasCode {
				parts = append(parts, strings.TrimSpace(script[start:findVarint(tok, 1)]))
			}
			start, hasCode = int(findVarint(tok, 2)), false
		case pg_query.Token_SQL_COMMENT, pg_query.Token_C_COMMENT:
		default:
			hasCode = true
		}
	}
	if hasCode {
		parts = append(parts, strings.TrimSpace(script[start:]))
	}
	return parts
}

func nonEmpty(parts []string) []string {
	out := parts[:0]
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}
