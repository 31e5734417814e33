package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/pgmoat/pgmoat/integration/pgcluster"
)

// Fault scenario sizes, as the fault probe ran them.
const (
	// recoveryRun is how many new sessions in a row must succeed after a
	// restart before the pooler counts as recovered.
	recoveryRun = 25
	// recoveryLimit gives up on a pooler that has not recovered.
	recoveryLimit = 60 * time.Second
	// bigValueClients read bigValueBytes each, at once.
	bigValueClients = 20
	bigValueBytes   = 50_000_000
)

// faultTargets are the poolers the fault scenario compares, alternating:
// PgBouncer and pgmoat, as far as -targets names them.
func faultTargets(o options) []string {
	var out []string
	for _, t := range []string{tPgBouncer, tPgmoat} {
		if contains(o.targets, t) {
			out = append(out, t)
		}
	}
	return out
}

// faults is the fault scenario: for PgBouncer and pgmoat in turn, each on
// a fresh process, the seconds from a fast restart of the server until
// every new session succeeds, and the peak resident memory while
// bigValueClients clients read a bigValueBytes value each.
func (e *env) faults(ctx context.Context) {
	for round := range e.o.rounds {
		for _, target := range faultTargets(e.o) {
			if ctx.Err() != nil {
				return
			}
			e.step("faults: %s, round %d: restart -m fast, then %d × %d MB values", target, round+1, bigValueClients, bigValueBytes/1_000_000)
			r := e.faultsOf(ctx, target)
			r.Round = round + 1
			e.rep.Faults = append(e.rep.Faults, r)
		}
	}
}

func (e *env) faultsOf(ctx context.Context, target string) faultResult {
	r := faultResult{Target: target, RecoverySec: nan, RestartSec: nan}
	proc, ep, err := e.freshPooler(ctx, target, authSCRAM)
	if err != nil {
		r.Error = err.Error()
		e.say("      skipped: %v", err)
		return r
	}
	defer proc.stop(5 * time.Second)
	if err := warmPool(ctx, ep, e.o.pool); err != nil {
		r.Error = "warming the pool: " + err.Error()
		e.say("      %s", r.Error)
		return r
	}
	e.measureRecovery(ctx, ep, &r)
	if why := proc.exited(); why != "" {
		r.Error = why
		e.say("      %s", why)
		return r
	}
	e.say("      restart took %.2f s; every new session served %.2f s after it began (%d failed after the server was up)",
		float64(r.RestartSec), float64(r.RecoverySec), r.FailedAfterUp)
	measureBigValues(ctx, ep, proc.cmd.Process.Pid, &r)
	e.say("      RSS %d KiB before, %d KiB peak, %d KiB after; %d of %d reads failed",
		r.RSSBeforeKB, r.RSSPeakKB, r.RSSAfterKB, r.ReadErrors, bigValueClients)
	return r
}

// warmPool has n sessions each open a transaction at once, so that the
// pooler holds n server connections, idle once they commit: what a
// restart then takes from it.
func warmPool(ctx context.Context, ep endpoint, n int) error {
	errs := make(chan error, n)
	var inTx, wg sync.WaitGroup
	inTx.Add(n)
	for range n {
		wg.Go(func() {
			c, err := connectTo(ctx, ep)
			if err != nil {
				inTx.Done()
				errs <- err
				return
			}
			defer c.Close(context.Background())
			_, err = c.Exec(ctx, "BEGIN").ReadAll()
			if err == nil {
				_, err = c.Exec(ctx, "SELECT 1").ReadAll()
			}
			inTx.Done()
			inTx.Wait() // every session holds its server connection now
			if err == nil {
				_, err = c.Exec(ctx, "COMMIT").ReadAll()
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	return errors.Join(collect(errs)...)
}

func collect(errs <-chan error) []error {
	var out []error
	for err := range errs {
		if err != nil {
			out = append(out, err)
		}
	}
	return out
}

// measureRecovery restarts the server (fast shutdown, as pg_ctl restart
// -m fast) while new sessions are opened one after another, from the
// moment the restart begins. Recovery is the time from then to the start
// of the first run of recoveryRun sessions that all succeeded.
func (e *env) measureRecovery(ctx context.Context, ep endpoint, r *faultResult) {
	began := time.Now()
	var up time.Time
	restarted := make(chan error, 1)
	go func() { restarted <- e.cluster.Restart(ctx, pgcluster.Fast) }()
	runStart, run := time.Time{}, 0
	for run < recoveryRun {
		if time.Since(began) > recoveryLimit || ctx.Err() != nil {
			r.Error = fmt.Sprintf("not recovered %s after the restart began (%d sessions in a row served)", recoveryLimit, run)
			break
		}
		select {
		case err := <-restarted:
			if err != nil {
				r.Error = "restart: " + err.Error()
				return
			}
			up = time.Now()
			r.RestartSec = num(up.Sub(began).Seconds())
		default:
		}
		start := time.Now()
		sctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		err := oneSession(sctx, ep, "SELECT 1")
		cancel()
		switch {
		case err != nil:
			run = 0
			if !up.IsZero() {
				r.FailedAfterUp++
			}
		case run == 0:
			runStart, run = start, 1
		default:
			run++
		}
		r.Sessions++
	}
	if up.IsZero() {
		if err := <-restarted; err != nil && r.Error == "" {
			r.Error = "restart: " + err.Error()
		}
		r.RestartSec = num(time.Since(began).Seconds())
	}
	if run >= recoveryRun {
		r.RecoverySec = num(runStart.Sub(began).Seconds())
	}
}

// oneSession opens a new connection, runs sql and closes it, as a psql
// invocation does.
func oneSession(ctx context.Context, ep endpoint, sql string) error {
	c, err := connectTo(ctx, ep)
	if err != nil {
		return err
	}
	defer c.Close(context.Background())
	_, err = c.Exec(ctx, sql).ReadAll()
	return err
}

func connectTo(ctx context.Context, ep endpoint) (*pgconn.PgConn, error) {
	cfg, err := configOf(ep)
	if err != nil {
		return nil, err
	}
	return pgconn.ConnectConfig(ctx, cfg)
}

func configOf(ep endpoint) (*pgconn.Config, error) {
	host, port, _ := strings.Cut(ep.addr, ":")
	cfg, err := pgconn.ParseConfig(fmt.Sprintf("host=%s port=%s dbname=%s sslmode=disable connect_timeout=10", host, port, ep.db))
	if err != nil {
		return nil, err
	}
	cfg.User, cfg.Password = ep.user, ep.password
	return cfg, nil
}

// measureBigValues samples the pooler's RSS while bigValueClients
// clients each read one bigValueBytes value through it. The clients
// stream the rows and keep none of them, so the harness's own memory
// does not grow with them.
func measureBigValues(ctx context.Context, ep endpoint, pid int, r *faultResult) {
	var err error
	if r.RSSBeforeKB, err = rssKB(pid); err != nil {
		r.Error = err.Error()
		return
	}
	done := make(chan struct{})
	peak := make(chan int64, 1)
	go func() {
		top := r.RSSBeforeKB
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			if kb, err := rssKB(pid); err == nil {
				top = max(top, kb)
			}
			select {
			case <-done:
				peak <- top
				return
			case <-tick.C:
			}
		}
	}()
	errs := make(chan error, bigValueClients)
	var wg sync.WaitGroup
	for range bigValueClients {
		wg.Go(func() { errs <- readBigValue(ctx, ep) })
	}
	wg.Wait()
	close(done)
	r.RSSPeakKB = <-peak
	close(errs)
	failed := collect(errs)
	r.ReadErrors = len(failed)
	if len(failed) > 0 && r.Error == "" {
		r.Error = "reading a big value: " + failed[0].Error()
	}
	time.Sleep(2 * time.Second) // what the pooler keeps once the rows are gone
	r.RSSAfterKB, _ = rssKB(pid)
}

// readBigValue runs SELECT repeat('x', bigValueBytes) on a connection of
// its own and reads the answer from the socket in pieces up to
// ReadyForQuery, checking the row had the whole value.
func readBigValue(ctx context.Context, ep endpoint) error {
	cfg, err := configOf(ep)
	if err != nil {
		return err
	}
	return readValue(ctx, cfg, bigValueBytes)
}

// readValue is readBigValue for a value of size bytes on a connection
// made with cfg.
//
// The answer is read through the reader pgconn reads the socket with,
// not from the socket itself: a write of pgconn's that took over 15 ms
// (a busy machine) starts its background reader, which goes on reading
// until pgconn stops it, and a stop only takes effect once the read in
// progress returns. If the server's whole reply to the connection's last
// write came before the stop, that read is still waiting after Hijack;
// it takes the first piece of the answer (up to 8 KiB), and a read of
// the bare socket then frames the rest from inside the value: a length
// of 0x78787878 read from the 'x's, waited for until the deadline.
func readValue(ctx context.Context, cfg *pgconn.Config, size int) error {
	var rd io.Reader
	cfg.BuildFrontend = func(r io.Reader, w io.Writer) *pgproto3.Frontend {
		rd = r
		return pgproto3.NewFrontend(r, w)
	}
	c, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	hj, err := c.Hijack()
	if err != nil {
		return err
	}
	conn := hj.Conn
	defer conn.Close()
	if d, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(d)
	} else {
		_ = conn.SetDeadline(time.Now().Add(2 * time.Minute))
	}
	q, _ := (&pgproto3.Query{String: fmt.Sprintf("SELECT repeat('x', %d)", size)}).Encode(nil)
	if _, err := conn.Write(q); err != nil {
		return err
	}
	br := bufio.NewReaderSize(rd, 64<<10)
	var hdr [5]byte
	rowBytes := 0
	for {
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			return err
		}
		n := int(binary.BigEndian.Uint32(hdr[1:])) - 4
		switch hdr[0] {
		case 'E':
			body := make([]byte, min(n, 4096))
			_, _ = io.ReadFull(br, body)
			var er pgproto3.ErrorResponse
			_ = er.Decode(body)
			return fmt.Errorf("%s %s", er.Code, er.Message)
		case 'D':
			rowBytes = n
		case 'Z':
			_, _ = br.Discard(n)
			if rowBytes < size {
				return fmt.Errorf("no row of %d bytes came back (largest %d)", size, rowBytes)
			}
			return nil
		}
		if _, err := br.Discard(n); err != nil {
			return err
		}
	}
}
