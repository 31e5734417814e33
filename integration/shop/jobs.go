package shop

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// A job is one statement one loader connection runs. rows is what it is
// expected to write (checked, and reported as progress); 0 means the job is
// not a data job and counts as one unit of its step.
type job struct {
	step string
	sql  string
	args []any
	rows int64
}

// Batch sizes keep each statement to a second or so, which bounds progress
// granularity and lets batches spread over connections.
const (
	customerBatch = 50_000
	orderBatch    = 100_000
	ticketBatch   = 50_000
)

// dataJobs fills every table. There are no keys yet, so the batches may
// run in any order and on any connection.
func dataJobs(scale int) []job {
	n := ExpectedCounts(scale)
	jobs := []job{
		// Several statements in one: the command tag only counts the last, so
		// the rows are checked by the tests rather than here.
		{step: "reference", sql: script("reference.sql")},
	}
	for first := int64(1); first <= n.Orders; first += orderBatch {
		last := min(first+orderBatch-1, n.Orders)
		jobs = append(jobs,
			job{step: "order_items", sql: script("items.sql"), args: []any{first, last}, rows: itemsInOrders(first, last)},
			job{step: "orders", sql: script("orders.sql"), args: []any{first, last, n.Customers, n.Orders}, rows: last - first + 1},
		)
	}
	for first := int64(1); first <= n.Customers; first += customerBatch {
		last := min(first+customerBatch-1, n.Customers)
		jobs = append(jobs, job{step: "customers", sql: script("customers.sql"),
			args: []any{first, last, n.Customers}, rows: last - first + 1})
	}
	for first := int64(1); first <= n.SupportTickets; first += ticketBatch {
		last := min(first+ticketBatch-1, n.SupportTickets)
		jobs = append(jobs, job{step: "support_tickets", sql: script("tickets.sql"),
			args: []any{first, last, n.Customers, n.Orders, n.SupportTickets, injectionTargets(n.Customers)},
			rows: last - first + 1})
	}
	return jobs
}

// indexJobs builds every index, the trigram ones only when pg_trgm exists.
func indexJobs(trgm bool) []job {
	stmts := statements("indexes.sql")
	if trgm {
		stmts = append(stmts, statements("trgm_indexes.sql")...)
	}
	jobs := make([]job, len(stmts))
	for i, s := range stmts {
		jobs[i] = job{step: "indexes", sql: s}
	}
	return jobs
}

// validateJobs validates the NOT VALID constraints, one job per table so
// that no two jobs need the same table lock, largest table first. Names
// come from the catalog.
func validateJobs(ctx context.Context, conn *pgx.Conn) ([]job, error) {
	rows, err := conn.Query(ctx, `
		SELECT c.relname, string_agg(format('VALIDATE CONSTRAINT %I', k.conname), ', ' ORDER BY k.conname)
		FROM pg_catalog.pg_constraint k JOIN pg_catalog.pg_class c ON c.oid = k.conrelid
		WHERE NOT k.convalidated AND c.relnamespace = 'public'::regnamespace
		GROUP BY c.relname ORDER BY max(pg_relation_size(c.oid)) DESC, c.relname`)
	if err != nil {
		return nil, fmt.Errorf("shop: list constraints: %w", err)
	}
	var jobs []job
	for rows.Next() {
		var table, actions string
		if err := rows.Scan(&table, &actions); err != nil {
			return nil, err
		}
		jobs = append(jobs, job{step: "constraints",
			sql: "ALTER TABLE " + pgx.Identifier{table}.Sanitize() + " " + actions})
	}
	return jobs, rows.Err()
}

// analyzeJobs gathers planner statistics, one table per job.
func analyzeJobs() []job {
	var jobs []job
	for _, t := range Tables() {
		jobs = append(jobs, job{step: "analyze", sql: "ANALYZE " + pgx.Identifier{t}.Sanitize()})
	}
	return jobs
}
