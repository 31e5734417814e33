package policy

import (
	"strings"
	"testing"

	pg_query "github.com/pganalyze/pg_query_go/v5"
)

// The scanner's fields and the LimitOption values are looked up like
// every other number, and the token count and the WITH TIES check work
// through them.
func TestNumsCoverScannerAndLimitOption(t *testing.T) {
	t.Parallel()
	s, err := newSchema()
	if err != nil {
		t.Fatal(err)
	}
	n, err := newNums(s)
	if err != nil {
		t.Fatal(err)
	}
	if n.limitCount != uint64(pg_query.LimitOption_LIMIT_OPTION_COUNT) || n.limitWithTies != uint64(pg_query.LimitOption_LIMIT_OPTION_WITH_TIES) {
		t.Errorf("LimitOption values %d, %d", n.limitCount, n.limitWithTies)
	}
	if n.scanTokens == 0 || n.scanTokenKind == 0 {
		t.Errorf("scanner fields %d, %d", n.scanTokens, n.scanTokenKind)
	}
	deep := "SELECT " + strings.Repeat("(", 300) + "1" + strings.Repeat(")", 300) + strings.Repeat(" + 1", 4000)
	if got, err := nestingTokens(deep, &n); err != nil || got < 4000 {
		t.Errorf("nesting tokens %d, %v", got, err)
	}
	e, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	v := e.Decide(Identity{UserID: "1"}, "SELECT 1 ORDER BY 1 FETCH FIRST 1 ROWS WITH TIES")
	if v.Allowed || v.Rule != RuleWithTies {
		t.Errorf("WITH TIES: %+v", v)
	}
}
