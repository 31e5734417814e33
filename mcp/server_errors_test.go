package mcp_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/pgmoat/pgmoat/mcp"
	"github.com/pgmoat/pgmoat/policy"
)

func TestServerTruncatesByRows(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		rows      int
		profile   policy.Profile
		args      map[string]any
		want      int
		truncated bool
	}{
		{"more rows than the limit", 5, policy.Profile{}, map[string]any{"limit": 2}, 2, true},
		{"exactly the limit", 2, policy.Profile{}, map[string]any{"limit": 2}, 2, false},
		{"fewer rows than the limit", 2, policy.Profile{}, map[string]any{"limit": 5}, 2, false},
		{"the tool's maximum", 1001, policy.Profile{MaxRows: 5000}, map[string]any{"limit": 5000}, 1000, true},
		// The profile's max_rows leaves no room for the probe row, so a
		// full page may have more behind it.
		{"profile max_rows, full page", 3, policy.Profile{MaxRows: 3}, map[string]any{"limit": 10}, 3, true},
		{"profile max_rows, short page", 2, policy.Profile{MaxRows: 3}, map[string]any{"limit": 10}, 2, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, &fakeExec{rows: customers(tc.rows)}, withProfile(t, tc.profile))
			p := h.page(t, "query_customers", tc.args)
			if p.RowCount != tc.want || p.Truncated != tc.truncated || (p.NextCursor != "") != tc.truncated {
				t.Errorf("%d rows, truncated %v, cursor %q; want %d rows, truncated %v", p.RowCount, p.Truncated, p.NextCursor, tc.want, tc.truncated)
			}
			if tc.truncated != strings.Contains(p.text, "more rows match") {
				t.Errorf("text: %s", p.text)
			}
			if strings.Contains(p.text, "result size budget") {
				t.Error("a page cut by rows speaks of the byte budget")
			}
		})
	}
}

func TestServerTruncatesByBytes(t *testing.T) {
	t.Parallel()
	// One customer row is about 70 bytes of JSON: 150 hold two.
	exec := &fakeExec{rows: customers(5)}
	h := newHarness(t, exec, withBudget(150))
	p := h.page(t, "query_customers", nil)
	if p.RowCount != 2 || !p.Truncated || p.NextCursor == "" {
		t.Fatalf("%d rows, truncated %v, cursor %q", p.RowCount, p.Truncated, p.NextCursor)
	}
	if !strings.Contains(p.text, "result size budget") {
		t.Errorf("text does not say the budget cut the page: %s", p.text)
	}
	if exec.last().MaxBytes != 300 {
		t.Errorf("executor budget %d, want twice the result budget", exec.last().MaxBytes)
	}
	// Fewer columns, more rows per page.
	if p := h.page(t, "query_customers", map[string]any{"columns": []string{"id"}}); p.RowCount != 5 || p.Truncated {
		t.Errorf("ids only: %d rows, truncated %v", p.RowCount, p.Truncated)
	}
}

// The executor ends the rows at its own budget: the page says so.
func TestServerTruncatesWhereTheExecutorStopped(t *testing.T) {
	t.Parallel()
	rows := customers(5)
	for _, r := range rows {
		r["full_name"] = strings.Repeat("n", 100)
	}
	// JSON doubles nothing here, so the executor's budget of 2×250 keeps
	// four rows of ~130 text bytes, and the page's budget two.
	h := newHarness(t, &fakeExec{rows: rows}, withBudget(250))
	p := h.page(t, "query_customers", nil)
	if p.RowCount == 0 || !p.Truncated || p.NextCursor == "" {
		t.Errorf("%d rows, truncated %v, cursor %q", p.RowCount, p.Truncated, p.NextCursor)
	}
}

func TestServerRefusesARowLargerThanTheBudget(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		nameLen int
		want    []string
	}{
		// The executor cut the value: its size comes from there.
		{"a value the executor cut", 500, []string{"column full_name holds 500 bytes", `columns: ["id", "email"]`}},
		// Kept, but the row's JSON does not fit.
		{"a row whose JSON does not fit", 190, []string{"column full_name holds", `columns: ["id", "email"]`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rows := customers(2)
			rows[0]["full_name"] = strings.Repeat("x", tc.nameLen)
			h := newHarness(t, &fakeExec{rows: rows}, withBudget(200))
			msg := h.toolError(t, "query_customers", nil)
			if !strings.HasPrefix(msg, "query_customers: the next row is larger than the result size budget of 200 bytes") {
				t.Errorf("message %q", msg)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("message %q lacks %q", msg, w)
				}
			}
		})
	}
}

// Every failure the executor can report becomes advice, never the
// server's message or the statement.
func TestServerExplainsExecutorFailures(t *testing.T) {
	t.Parallel()
	denial := &policy.Error{SQLState: policy.SQLStateDenied, Rule: "relation.deny", Message: "pgmoat: relation.deny: reading public.customers is not allowed"}
	for _, tc := range []struct {
		err  error
		want string // the stable start of the text
		also string
	}{
		{&mcp.DBError{Unavailable: true, Message: "dial tcp: refused"}, "The database is unavailable right now.", ""},
		{&mcp.DBError{SQLState: "57014", Message: "canceling statement due to statement timeout"}, "The query took longer than the statement timeout", "id, id_in, id_gte, id_lte, email, email_in"},
		{&mcp.DBError{SQLState: policy.SQLStateTooManyConnections, Message: "pool exhausted"}, "pgmoat is busy: every database connection is in use.", ""},
		{&mcp.DBError{SQLState: "57P01", Message: "terminating connection due to administrator command"}, "The database is shutting down or restarting.", ""},
		{&mcp.DBError{SQLState: "42704", Message: `type "x" does not exist`}, "query_customers refers to a table or column that no longer exists", ""},
		{&mcp.DBError{SQLState: "22P02", Message: `invalid input syntax for type integer: "SELECT secret"`}, "A value was not valid for its column type (SQLSTATE 22P02).", ""},
		{&mcp.DBError{SQLState: "22008", Message: "date/time field value out of range"}, "A value was not valid for its column type (SQLSTATE 22008).", ""},
		{&mcp.DBError{SQLState: "08006", Message: "connection failure"}, "The connection to the database was lost.", ""},
		{&mcp.DBError{SQLState: "XX000", Message: "cache lookup failed near SELECT"}, "The database refused the query (SQLSTATE XX000).", ""},
		{denial, denial.Message, ""},
		{context.Canceled, "The call was cancelled before the database answered.", ""},
		{fmt.Errorf("query: %w", context.DeadlineExceeded), "The call was cancelled before the database answered.", ""},
		{errors.New("a bug"), "pgmoat: internal error while running the query", ""},
	} {
		t.Run(fmt.Sprint(tc.err), func(t *testing.T) {
			t.Parallel()
			var log bytes.Buffer
			h := newHarness(t, &fakeExec{fail: tc.err}, func(o *mcp.ServerOptions) {
				o.Logger = slog.New(slog.NewTextHandler(&log, nil))
			})
			msg := h.toolError(t, "query_customers", map[string]any{"id": 7})
			if !strings.HasPrefix(msg, tc.want) || !strings.Contains(msg, tc.also) {
				t.Errorf("message %q, want it to start %q", msg, tc.want)
			}
			if de, ok := tc.err.(*mcp.DBError); ok && strings.Contains(msg, de.Message) {
				t.Errorf("the server's message leaked into %q", msg)
			}
			if r := h.lastRecord(t); !r.IsError || r.SQL == "" {
				t.Errorf("record %+v: an executed failure keeps its statement", r)
			}
			if internal := strings.Contains(log.String(), "internal error"); internal != strings.HasPrefix(tc.want, "pgmoat: internal") {
				t.Errorf("internal error logged %v for %v", internal, tc.err)
			}
		})
	}
	h := newHarness(t, &fakeExec{fail: denial})
	h.toolError(t, "query_customers", nil)
	if r := h.lastRecord(t); r.DenialRule != "relation.deny" {
		t.Errorf("denial rule %q", r.DenialRule)
	}
}

// Every mistake in the arguments is refused before the executor with a
// text that says what to send instead.
func TestServerExplainsArgumentMistakes(t *testing.T) {
	t.Parallel()
	exec := &fakeExec{rows: customers(1)}
	h := newHarness(t, exec, func(o *mcp.ServerOptions) { o.MaxValueBytes = 64 })
	for _, tc := range []struct {
		tool string
		args any
		want string
	}{
		{"query_customers", map[string]any{"nickname": "x"}, `query_customers has no parameter "nickname". Filterable parameters: id, id_in, id_gte, id_lte, email, email_in; also limit, order_by, columns, cursor.`},
		{"query_customers", map[string]any{"full_name": "x"}, "column full_name cannot be filtered: no index makes that filter cheap"},
		{"query_customers", map[string]any{"full_name_in": []string{"x"}}, "column full_name cannot be filtered"},
		{"query_customers", map[string]any{"full_name_gte": "x"}, "column full_name cannot be filtered"},
		{"query_customers", map[string]any{"full_name_search": "x"}, "column full_name cannot be filtered"},
		{"query_customers", map[string]any{"id": nil}, "id is null: leave the parameter out instead of passing null."},
		{"query_customers", map[string]any{"id": "seven"}, "id must be an integer (int4), e.g. 42."},
		{"query_customers", map[string]any{"id": 1.5}, "id must be an integer (int4)"},
		// tools/list shows id_gte as {} (id gives its type): the server
		// still checks it, with the same clear error.
		{"query_customers", map[string]any{"id_gte": "seven"}, "id_gte must be an integer (int4), e.g. 42."},
		{"query_customers", map[string]any{"id": 1 << 31}, "id is out of range for int4."},
		{"query_customers", map[string]any{"limit": "ten"}, "limit must be an integer, e.g. 50."},
		{"query_customers", map[string]any{"limit": 0}, "limit must be at least 1."},
		{"query_customers", map[string]any{"order_by": "full_name asc"}, "order_by must be a column, optionally followed by asc or desc: one of id asc, id desc, email asc, email desc"},
		{"query_customers", map[string]any{"columns": []string{}}, `columns must be a non-empty array of column names, e.g. ["id"].`},
		{"query_customers", map[string]any{"columns": []string{"password"}}, "columns: password is not a column of query_customers. Columns: id, email, full_name."},
		{"query_customers", map[string]any{"columns": []string{"id", "id"}}, "columns: id is listed twice."},
		{"query_customers", map[string]any{"cursor": ""}, "cursor must be the next_cursor string of a previous result."},
		{"query_customers", map[string]any{"id_in": 7}, "id_in must be an array of values, e.g. [42]."},
		{"query_customers", map[string]any{"id_in": []int{}}, "id_in must hold at least one value."},
		{"query_customers", map[string]any{"id_in": []any{1, "two"}}, "id_in[1] must be an integer (int4)"},
		{"query_customers", map[string]any{"email": strings.Repeat("e", 65)}, "email is 65 bytes long; values are limited to 64 bytes."},
		{"query_customers", map[string]any{"email": "a\x00b"}, "email must be valid UTF-8 text without NUL characters."},
		{"query_orders", map[string]any{"status": "lost"}, "status must be one of: pending, paid, shipped."},
		{"query_orders", map[string]any{"created_at": "yesterday"}, "created_at must be a timestamp with time zone in RFC 3339 form, e.g. \"2024-05-31T14:30:00Z\"."},
		{"query_orders", map[string]any{"status_in": []string{"paid", "lost"}}, "status_in[1] must be one of"},
	} {
		t.Run(fmt.Sprint(tc.tool, tc.args), func(t *testing.T) {
			msg := h.toolError(t, tc.tool, tc.args)
			if !strings.HasPrefix(msg, tc.want) {
				t.Errorf("message\n %q\nwant it to start\n %q", msg, tc.want)
			}
		})
	}
	if exec.nCalls() != 0 {
		t.Errorf("%d calls with bad arguments reached the executor", exec.nCalls())
	}
	if s := h.srv.Stats(); s.Errors != s.Calls {
		t.Errorf("stats %+v: every call was an error", s)
	}
}
