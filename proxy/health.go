package proxy

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// DefaultHealthInterval is how often each replica is checked when
// PoolConfig.HealthInterval is unset.
const DefaultHealthInterval = time.Second

// The health checks' statements: constant texts, read-only, on pgmoat's
// own connections (never lent).
const (
	qPrimaryLSN    = `SELECT pg_catalog.pg_current_wal_lsn()::text`
	qReplicaHealth = `SELECT pg_catalog.pg_is_in_recovery()::text, pg_catalog.pg_last_wal_replay_lsn()::text,
		extract(epoch FROM pg_catalog.now() - pg_catalog.pg_last_xact_replay_timestamp())::text`
)

// watch checks every replica each interval until the router closes.
func (r *router) watch() {
	defer close(r.done)
	r.round()
	close(r.firstRound)
	tick := time.NewTicker(r.interval)
	defer tick.Stop()
	for {
		select {
		case <-r.stop:
			r.primaryConn.close()
			for _, rep := range r.replicas {
				rep.conn.close()
			}
			return
		case <-tick.C:
			r.round()
		}
	}
}

// minCheckTimeout is the least time one health check may take. A check
// includes reconnecting after a failure (a login, SCRAM and all), which
// on a busy server takes longer than a short interval: a replica is not
// taken out of rotation for being slow to log in, only for refusing,
// failing, or not answering within this.
const minCheckTimeout = 2 * time.Second

func (r *router) checkTimeout() time.Duration { return max(r.interval, minCheckTimeout) }

// round samples the primary's WAL position, then checks the replicas
// side by side, each within checkTimeout: a hung replica delays no
// other. The primary is sampled first, so a replica that has replayed
// up to the sample was at most one round behind.
func (r *router) round() {
	ctx, cancel := context.WithTimeout(context.Background(), r.checkTimeout())
	if lsn, err := r.primaryLSN(ctx); err == nil {
		r.samples.add(time.Now(), lsn)
	}
	cancel()
	var wg sync.WaitGroup
	for _, rep := range r.replicas {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), r.checkTimeout())
			defer cancel()
			r.publish(rep, r.check(ctx, rep))
		}()
	}
	wg.Wait()
}

func (r *router) primaryLSN(ctx context.Context) (uint64, error) {
	row, err := r.primaryConn.query(ctx, qPrimaryLSN)
	if err != nil {
		return 0, err
	}
	return parseLSN(row[0])
}

// check judges one replica: it must answer, be in recovery (a promoted
// replica follows the primary no longer) and replay within the lag bound.
func (r *router) check(ctx context.Context, rep *replica) *hostHealth {
	h := &hostHealth{checked: time.Now(), lag: -1}
	if err := rep.pool.guard.refusal(); err != nil {
		h.why = "unsafe role: " + err.Error()
		return h
	}
	row, err := rep.conn.query(ctx, qReplicaHealth)
	if err != nil {
		h.why = "unreachable: " + err.Error()
		return h
	}
	if h.recovering = row[0] == "true"; !h.recovering {
		h.why = "promoted: not in recovery, so it no longer follows the primary"
		return h
	}
	h.lag = r.samples.lag(time.Now(), row[1], row[2])
	if h.lag > r.maxLag {
		h.why = fmt.Sprintf("lagging: replay lag %s over backend.max_replica_lag %s", h.lag.Round(time.Millisecond), r.maxLag)
		return h
	}
	h.inRotation = true
	return h
}

// lsnSamples remembers the primary's WAL position at recent rounds,
// oldest first: enough to tell how long ago the primary was last where
// a replica's replay is.
type lsnSamples struct {
	at  []time.Time
	lsn []uint64
}

// keepSamples bounds the history: a replica further behind than this
// many rounds is judged by its replay timestamp alone.
const keepSamples = 120

func (s *lsnSamples) add(t time.Time, lsn uint64) {
	if len(s.at) == keepSamples {
		s.at, s.lsn = s.at[1:], s.lsn[1:]
	}
	s.at, s.lsn = append(s.at, t), append(s.lsn, lsn)
}

// lag is a replica's replay lag at now, from its replay position and the
// age of its last replayed transaction (seconds, "" when none). A replica
// that has replayed what the primary had written at the last sample lags
// 0, however long ago that last transaction was: an idle primary is not
// lag. Otherwise the lag is at most the time since the last sample the
// replica had caught up with, and at most the age of its last replayed
// transaction; the smaller bound is the lag.
func (s *lsnSamples) lag(now time.Time, replayText, ageText string) time.Duration {
	bound := time.Duration(1<<63 - 1)
	if replay, err := parseLSN(replayText); err == nil {
		n := len(s.lsn)
		if n > 0 && replay >= s.lsn[n-1] {
			return 0
		}
		for i := n - 1; i >= 0; i-- {
			if replay >= s.lsn[i] {
				bound = now.Sub(s.at[i])
				break
			}
		}
	}
	if age, err := strconv.ParseFloat(ageText, 64); err == nil {
		bound = min(bound, max(0, time.Duration(age*float64(time.Second))))
	}
	return bound
}

// parseLSN reads PostgreSQL's X/Y text form of a WAL position.
func parseLSN(text string) (uint64, error) {
	hi, lo, ok := strings.Cut(text, "/")
	if !ok {
		return 0, fmt.Errorf("not a WAL position: %q", text)
	}
	h, err1 := strconv.ParseUint(hi, 16, 32)
	l, err2 := strconv.ParseUint(lo, 16, 32)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("not a WAL position: %q", text)
	}
	return h<<32 | l, nil
}

// healthConn is one health-check connection, opened on first use and
// again after any failure. Owned by the health goroutine.
type healthConn struct {
	cfg *pgconn.Config
	pc  *pgconn.PgConn
}

// query runs one of the constant health statements and returns its one
// row as text ("" for NULL).
func (c *healthConn) query(ctx context.Context, sql string) ([]string, error) {
	if c.pc == nil {
		pc, err := pgconn.ConnectConfig(ctx, c.cfg)
		if err != nil {
			return nil, err
		}
		c.pc = pc
	}
	res := c.pc.ExecParams(ctx, sql, nil, nil, nil, nil).Read()
	if res.Err != nil || len(res.Rows) != 1 {
		c.close()
		if res.Err == nil {
			res.Err = fmt.Errorf("%d rows", len(res.Rows))
		}
		return nil, res.Err
	}
	row := make([]string, len(res.Rows[0]))
	for i, v := range res.Rows[0] {
		row[i] = string(v)
	}
	return row, nil
}

func (c *healthConn) close() {
	if c.pc != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = c.pc.Close(ctx)
		cancel()
		c.pc = nil
	}
}
