package mcpdoor

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgmoat/pgmoat/mcp"
	"github.com/pgmoat/pgmoat/policy"
	"github.com/pgmoat/pgmoat/proxy"
)

func TestClassify(t *testing.T) {
	t.Parallel()
	denial := &policy.Error{SQLState: policy.SQLStateDenied, Rule: policy.RuleRelation, Message: "pgmoat: relation: no"}
	for _, tc := range []struct {
		name string
		err  error
		want error
	}{
		{"denial", fmt.Errorf("judging: %w", denial), denial},
		{"server error", &pgconn.PgError{Code: "57014", Message: "canceling statement due to statement timeout"},
			&mcp.DBError{SQLState: "57014", Message: "canceling statement due to statement timeout"}},
		{"pool", fmt.Errorf("lend: %w", proxy.ErrPoolExhausted),
			&mcp.DBError{SQLState: "53300", Message: "lend: " + proxy.ErrPoolExhausted.Error()}},
		{"canceled", context.Canceled, context.Canceled},
		{"deadline", fmt.Errorf("x: %w", context.DeadlineExceeded), nil},
		{"unreachable", errors.New("dial tcp: connection refused"), &mcp.DBError{Unavailable: true, Message: "dial tcp: connection refused"}},
	} {
		got := Classify(tc.err)
		switch want := tc.want.(type) {
		case nil:
			if !errors.Is(got, context.DeadlineExceeded) {
				t.Errorf("%s: %v, want the deadline kept", tc.name, got)
			}
		case *mcp.DBError:
			if g, ok := got.(*mcp.DBError); !ok || *g != *want {
				t.Errorf("%s: %#v, want %#v", tc.name, got, want)
			}
		default:
			if got != want {
				t.Errorf("%s: %v, want %v", tc.name, got, want)
			}
		}
	}
}

type fakeQuerier struct {
	res *proxy.Result
	err error
}

func (f fakeQuerier) QueryBudget(context.Context, policy.Identity, int, string, ...any) (*proxy.Result, error) {
	return f.res, f.err
}

// TestExecutorRows: the proxy's result becomes mcp's rows, cut values
// included, and an error is classified on the way.
func TestExecutorRows(t *testing.T) {
	t.Parallel()
	res := &proxy.Result{Rows: [][]any{{int64(1), "a"}}, Truncated: true, Cut: []proxy.CutValue{{Row: 0, Column: 1, Size: 9}}}
	res.Fields = append(res.Fields, proxy.Field{Name: "id"}, proxy.Field{Name: "name"})
	rows, err := Executor{X: fakeQuerier{res: res}}.Query(context.Background(), policy.Identity{}, 0, "SELECT 1")
	if err != nil || len(rows.Columns) != 2 || rows.Columns[1] != "name" || !rows.Truncated ||
		len(rows.Cut) != 1 || rows.Cut[0] != (mcp.CutValue{Row: 0, Column: 1, Size: 9}) {
		t.Fatalf("%+v, %v", rows, err)
	}
	_, err = Executor{X: fakeQuerier{err: proxy.ErrPoolExhausted}}.Query(context.Background(), policy.Identity{}, 0, "SELECT 1")
	var db *mcp.DBError
	if !errors.As(err, &db) || db.SQLState != "53300" {
		t.Fatalf("pool error: %v", err)
	}
}
