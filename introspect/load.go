package introspect

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Conn is what Load needs of a connection; *pgx.Conn and *pgxpool.Pool
// satisfy it.
type Conn interface {
	BeginTx(ctx context.Context, opts pgx.TxOptions) (pgx.Tx, error)
}

// LoadError says which catalog query failed.
type LoadError struct {
	Step string // "relations", "columns", ...
	Err  error
}

func (e *LoadError) Error() string {
	return fmt.Sprintf("introspect: reading %s from the catalog: %v", e.Step, e.Err)
}

func (e *LoadError) Unwrap() error { return e.Err }

// Load reads a Snapshot. All catalog queries go out as one batch inside one
// read-only repeatable-read transaction, so the snapshot is consistent and
// costs a fixed number of round trips whatever the size of the schema.
// The batch turns JIT compilation off for the transaction first: the
// planner overestimates the recursive catalog queries by orders of
// magnitude, and compiling them took seconds of every load, many times what
// running them takes. It also reads the names in UTF-8 (utf8Names).
func Load(ctx context.Context, conn Conn) (*Snapshot, error) {
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, &LoadError{Step: "begin", Err: err}
	}
	defer func() { _ = tx.Rollback(context.Background()) }()

	b := newBuilder()
	batch := &pgx.Batch{}
	batch.Queue(noJIT)
	batch.Queue(utf8Names)
	for _, step := range b.steps() {
		batch.Queue(step.sql)
	}
	results := tx.SendBatch(ctx, batch)
	for range 2 {
		if _, err := results.Exec(); err != nil {
			_ = results.Close()
			return nil, &LoadError{Step: "settings", Err: err}
		}
	}
	for _, step := range b.steps() {
		if err := readStep(results, step); err != nil {
			_ = results.Close()
			return nil, err
		}
	}
	if err := results.Close(); err != nil {
		return nil, &LoadError{Step: "batch", Err: err}
	}
	return b.finish()
}

// noJIT keeps JIT compilation out of the load's transaction.
const noJIT = "SET LOCAL jit = off"

// utf8Names has the names read in UTF-8, as pgmoat's backends speak and
// the policy engine compares them, whatever the connection's
// client_encoding (a database's own encoding unless the DSN asks). A
// SQL_ASCII database converts nothing and its names are read as the
// bytes they are: one may hold a character cut in half, which a UTF8
// client cannot be sent.
const utf8Names = `SELECT pg_catalog.set_config('client_encoding',
  CASE current_setting('server_encoding') WHEN 'SQL_ASCII' THEN 'SQL_ASCII' ELSE 'UTF8' END, true)`

// step is one catalog query and the function that consumes its rows.
type step struct {
	name string
	sql  string
	scan func(pgx.Rows) error
}

func readStep(results pgx.BatchResults, s step) error {
	rows, err := results.Query()
	if err != nil {
		return &LoadError{Step: s.name, Err: err}
	}
	defer rows.Close()
	for rows.Next() {
		if err := s.scan(rows); err != nil {
			return &LoadError{Step: s.name, Err: err}
		}
	}
	if err := rows.Err(); err != nil {
		return &LoadError{Step: s.name, Err: err}
	}
	return nil
}

// ErrInconsistent reports catalog rows that contradict each other, which a
// single repeatable-read transaction should make impossible.
var ErrInconsistent = errors.New("introspect: inconsistent catalog rows")
