package mcp

import (
	"context"
	"errors"
	"fmt"

	"github.com/pgmoat/pgmoat/policy"
)

// Executor runs one parameterized SELECT under an identity: the same pool,
// policy check and identity injection as the wire-protocol door. The proxy's
// in-process executor satisfies it through a small adapter in cmd/pgmoat;
// this package never reaches the database any other way.
type Executor interface {
	// Query runs sql with args as bind parameters. Every argument the
	// builder passes is a string in PostgreSQL text form or nil, and sql
	// casts each $n to its column type. maxBytes bounds what the
	// executor keeps of the result (the values' text forms; 0: no bound):
	// rows are kept while they fit, and of a first row that does not,
	// the values larger than the budget are left out and listed in
	// Rows.Cut. Failures are *policy.Error (a denial), *DBError (the
	// database said no or could not be reached) or a context error.
	Query(ctx context.Context, id policy.Identity, maxBytes int, sql string, args ...any) (*Rows, error)
}

// Rows is a read result set. Values are as pgx decodes text-format
// results: int16/32/64, float32/64, string, bool, time.Time, numeric
// values, []byte, [16]byte for uuid, map[string]any and []any for json,
// []any for arrays; nil for NULL.
type Rows struct {
	Columns []string
	Values  [][]any
	// Truncated is true when the byte budget ended the rows kept: more
	// rows were read from the database and dropped.
	Truncated bool
	// Cut lists the values the executor did not keep because each alone
	// was larger than the budget; they are nil in Values.
	Cut []CutValue
}

// CutValue is a value left out of Rows for its size.
type CutValue struct {
	Row, Column int
	Size        int // bytes, in its text form
}

// DBError is a failure of the database or of the way to it, as the
// executor adapter classifies it. Its Message is never shown to a model
// verbatim: server messages may echo statement text.
type DBError struct {
	// SQLState is the server's code, or pgmoat's own (53300 when the pool
	// is exhausted); "" when the database could not be reached at all.
	SQLState string
	Message  string
	// Unavailable is true when no backend could run the statement
	// (connection refused, backend lost, pool closed).
	Unavailable bool
}

func (e *DBError) Error() string {
	if e.SQLState != "" {
		return fmt.Sprintf("database error %s: %s", e.SQLState, e.Message)
	}
	return "database unavailable: " + e.Message
}

// SQLSTATEs the tool handlers tell apart.
const (
	stateTimeout       = "57014" // query_canceled: statement_timeout
	stateTooManyConns  = policy.SQLStateTooManyConnections
	stateUndefinedTab  = "42P01"
	stateUndefinedCol  = "42703"
	stateUndefinedObj  = "42704"
	stateBadInput      = "22P02"
	stateDatetimeField = "22008"
	stateAdminShutdown = "57P01"
)

func asDBError(err error) (*DBError, bool) {
	var de *DBError
	ok := errors.As(err, &de)
	return de, ok
}
