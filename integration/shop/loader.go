package shop

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/jackc/pgx/v5"
)

// loader owns the connections a load runs on: main (owned by Load) plus
// Workers-1 more, each with the generator functions in its pg_temp.
type loader struct {
	opts  Options
	main  *pgx.Conn
	conns []*pgx.Conn // main first
}

// sessionSetup is run on every loader connection. Bulk loading and index
// builds want more memory than the defaults; these are session settings
// and vanish with the connection.
const sessionSetup = "SET work_mem = '64MB'; SET maintenance_work_mem = '256MB'; SET synchronous_commit = off"

func openLoader(ctx context.Context, dsn string, main *pgx.Conn, opts Options) (*loader, error) {
	l := &loader{opts: opts, main: main, conns: []*pgx.Conn{main}}
	for len(l.conns) < opts.Workers {
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			l.close(ctx)
			return nil, fmt.Errorf("shop: connect worker: %w", err)
		}
		l.conns = append(l.conns, conn)
	}
	for _, conn := range l.conns {
		if err := prepareSession(ctx, conn); err != nil {
			l.close(ctx)
			return nil, err
		}
	}
	return l, nil
}

func prepareSession(ctx context.Context, conn *pgx.Conn) error {
	if _, err := conn.PgConn().Exec(ctx, sessionSetup).ReadAll(); err != nil {
		return fmt.Errorf("shop: session settings: %w", err)
	}
	if err := execScript(ctx, conn, "functions.sql"); err != nil {
		return fmt.Errorf("shop: generator functions: %w", err)
	}
	return nil
}

// close closes the worker connections; main belongs to the caller.
func (l *loader) close(ctx context.Context) {
	for _, conn := range l.conns[1:] {
		_ = conn.Close(ctx)
	}
}

// run spreads jobs over the connections and waits for all of them. The
// first failure cancels the rest and is returned.
func (l *loader) run(ctx context.Context, jobs []job) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	queue := make(chan job)
	go func() {
		defer close(queue)
		for _, j := range jobs {
			select {
			case queue <- j:
			case <-ctx.Done():
				return
			}
		}
	}()
	p := newProgress(l.opts.Progress, jobs)
	errs := make([]error, len(l.conns))
	var wg sync.WaitGroup
	for i, conn := range l.conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range queue {
				if err := runJob(ctx, conn, j); err != nil {
					errs[i] = err
					cancel()
					return
				}
				p.done(j)
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return ctx.Err()
}

func runJob(ctx context.Context, conn *pgx.Conn, j job) error {
	tag, err := conn.Exec(ctx, j.sql, j.args...)
	if err != nil {
		return fmt.Errorf("shop: %s %v: %w", j.step, j.args, err)
	}
	if j.rows > 0 && tag.RowsAffected() != j.rows {
		return fmt.Errorf("shop: %s %v wrote %d rows, want %d: generator and ExpectedCounts disagree",
			j.step, j.args, tag.RowsAffected(), j.rows)
	}
	return nil
}

// progress totals each step's work up front and reports completed jobs,
// one call at a time.
type progress struct {
	report   func(step string, done, total int64)
	mu       sync.Mutex
	finished map[string]int64
	total    map[string]int64
}

func newProgress(report func(string, int64, int64), jobs []job) *progress {
	p := &progress{report: report, finished: map[string]int64{}, total: map[string]int64{}}
	for _, j := range jobs {
		p.total[j.step] += weight(j)
	}
	return p
}

func weight(j job) int64 { return max(j.rows, 1) }

func (p *progress) done(j job) {
	if p.report == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.finished[j.step] += weight(j)
	p.report(j.step, p.finished[j.step], p.total[j.step])
}
