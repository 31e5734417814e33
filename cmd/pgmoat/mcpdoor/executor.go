package mcpdoor

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgmoat/pgmoat/mcp"
	"github.com/pgmoat/pgmoat/policy"
	"github.com/pgmoat/pgmoat/proxy"
	"github.com/pgmoat/pgmoat/proxy/slowlog"
)

// Querier is what Executor needs of *proxy.Executor.
type Querier interface {
	QueryBudget(ctx context.Context, id policy.Identity, maxBytes int, sql string, args ...any) (*proxy.Result, error)
}

// Executor adapts the proxy's in-process executor to mcp.Executor,
// classifying failures so that mcp never needs to know pgx or the pool,
// and hands every statement to the slow log.
type Executor struct {
	X    Querier
	Slow *slowlog.Log // nil: no slow-statement capture
}

// Query implements mcp.Executor.
func (e Executor) Query(ctx context.Context, id policy.Identity, maxBytes int, sql string, args ...any) (*mcp.Rows, error) {
	start := time.Now()
	res, err := e.X.QueryBudget(ctx, id, maxBytes, sql, args...)
	e.Slow.Observe(id, sql, time.Since(start))
	if err != nil {
		return nil, Classify(err)
	}
	rows := &mcp.Rows{Columns: make([]string, len(res.Fields)), Values: res.Rows, Truncated: res.Truncated}
	for i, f := range res.Fields {
		rows.Columns[i] = f.Name
	}
	for _, c := range res.Cut {
		rows.Cut = append(rows.Cut, mcp.CutValue{Row: c.Row, Column: c.Column, Size: c.Size})
	}
	return rows, nil
}

// Classify turns an executor error into what mcp explains to the
// caller: a policy denial as it is, a server error by its SQLSTATE, an
// exhausted pool as 53300, a cancellation as it is, anything else (the
// server unreachable) as unavailable.
func Classify(err error) error {
	var pe *policy.Error
	var pg *pgconn.PgError
	switch {
	case errors.As(err, &pe):
		return pe
	case errors.As(err, &pg):
		return &mcp.DBError{SQLState: pg.Code, Message: pg.Message}
	case errors.Is(err, proxy.ErrPoolExhausted):
		return &mcp.DBError{SQLState: policy.SQLStateTooManyConnections, Message: err.Error()}
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	}
	return &mcp.DBError{Unavailable: true, Message: err.Error()}
}
