package mcp_test

import (
	"strings"
	"testing"
)

// The table tools leave out what they all share (an _gte is typed by its
// column, a _search's syntax is one word): the instructions a client gets
// in initialize must say it instead.
func TestInstructionsSayTheSharedFilterRules(t *testing.T) {
	t.Parallel()
	h := newHarness(t, &fakeExec{rows: customers(1)})
	got := h.cs.InitializeResult().Instructions
	for _, want := range []string{"<col>_in a list", "<col>_gte and <col>_lte bound it", "substring", `full-text takes web-search syntax: words, "quoted phrases", OR, -excluded`} {
		if !strings.Contains(got, want) {
			t.Errorf("instructions lack %q:\n%s", want, got)
		}
	}
}
