package mcp_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/pgmoat/pgmoat/mcp"
	"github.com/pgmoat/pgmoat/policy"
)

// fakeExec is an mcp.Executor over rows held in memory. It answers the
// statement's SELECT list from its rows, in their order, and keeps to the
// executor's byte-budget contract (rows kept while their text forms fit;
// of a first row that does not fit, the values larger than the budget are
// left out and listed as cut). It does not evaluate WHERE or LIMIT: the
// server must cut the page itself, and a test that needs the rows after a
// cursor says which through page.
type fakeExec struct {
	mu    sync.Mutex
	rows  []map[string]any
	calls []fakeCall
	// fail, when set, is returned instead of rows (then cleared when
	// failOnce is set).
	fail     error
	failOnce bool
	// page, when set, chooses the rows of a call (e.g. those after the
	// position its arguments carry).
	page func(c fakeCall, rows []map[string]any) []map[string]any
	// drop leaves the last n selected columns out of every answer, as a
	// database whose table lost a column would.
	drop int
	// block, when set, is received from before answering.
	block chan struct{}
	// started, when set, is sent to as each call arrives.
	started chan struct{}
}

// fakeCall is one statement the server sent.
type fakeCall struct {
	ID       policy.Identity
	MaxBytes int
	SQL      string
	Args     []any
}

// hasArg reports whether one of the call's bind values is s.
func (c fakeCall) hasArg(s string) bool { return slices.Contains(c.Args, any(s)) }

func (f *fakeExec) Query(ctx context.Context, id policy.Identity, maxBytes int, sql string, args ...any) (*mcp.Rows, error) {
	c := fakeCall{ID: id, MaxBytes: maxBytes, SQL: sql, Args: args}
	f.mu.Lock()
	f.calls = append(f.calls, c)
	block, started := f.block, f.started
	f.mu.Unlock()
	if started != nil {
		started <- struct{}{}
	}
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail; err != nil {
		if f.failOnce {
			f.fail = nil
		}
		return nil, err
	}
	cols := selectList(sql)
	cols = cols[:len(cols)-min(f.drop, len(cols))]
	rows := f.rows
	if f.page != nil {
		rows = f.page(c, rows)
	}
	return budgeted(cols, rows, maxBytes), nil
}

// nCalls is how many statements reached the executor.
func (f *fakeExec) nCalls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

// last is the last statement the executor was sent.
func (f *fakeExec) last() fakeCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.calls) == 0 {
		return fakeCall{}
	}
	return f.calls[len(f.calls)-1]
}

// budgeted lays rows out in cols' order under the executor's byte budget.
func budgeted(cols []string, rows []map[string]any, maxBytes int) *mcp.Rows {
	out := &mcp.Rows{Columns: cols}
	used := 0
	for i, r := range rows {
		vals := make([]any, len(cols))
		size := 0
		for j, c := range cols {
			vals[j] = r[c]
			size += textSize(r[c])
		}
		if maxBytes > 0 && used+size > maxBytes {
			if i > 0 {
				out.Truncated = true
				break
			}
			for j := range vals {
				if n := textSize(vals[j]); n > maxBytes {
					out.Cut = append(out.Cut, mcp.CutValue{Row: 0, Column: j, Size: n})
					vals[j] = nil
				}
			}
		}
		used += size
		out.Values = append(out.Values, vals)
	}
	return out
}

func textSize(v any) int {
	if v == nil {
		return 0
	}
	return len(fmt.Sprint(v))
}

// selectList is the output column names of a built statement: the items
// between SELECT and FROM, each named by its last quoted identifier
// (t."id", or t."x"::pg_catalog.text AS "x").
func selectList(sql string) []string {
	list, _, _ := strings.Cut(strings.TrimPrefix(sql, "SELECT "), " FROM ")
	var cols []string
	for _, item := range strings.Split(list, ", ") {
		end := strings.LastIndex(item, `"`)
		start := strings.LastIndex(item[:max(end, 0)], `"`)
		if start < 0 || end <= start {
			cols = append(cols, item)
			continue
		}
		cols = append(cols, strings.ReplaceAll(item[start+1:end], `""`, `"`))
	}
	return cols
}
