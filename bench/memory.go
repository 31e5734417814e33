package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// connectWorkers bounds concurrent logins: SCRAM costs a few milliseconds
// of CPU on each side, and a login queue beyond this only adds latency.
const connectWorkers = 16

// memoryAuths are the client authentication methods the memory scenario
// runs with: what a login leaves behind may depend on it.
var memoryAuths = []string{authSCRAM, authMD5}

// memory is scenario 3: resident memory of fresh pgmoat and PgBouncer
// processes (as far as -targets names them) before and after idleClients
// authenticated, idle clients, once per authentication method. For
// pgmoat it also keeps a heap profile taken with the clients connected
// (pgmoat-memory-<auth>.heap.txt, with the Go runtime's memory
// statistics at its end), which says what each client's memory is.
func (e *env) memory(ctx context.Context) {
	for _, auth := range memoryAuths {
		for _, t := range faultTargets(e.o) { // the poolers -targets names
			e.step("memory: %d idle %s clients on a fresh %s", e.o.idleClients, auth, t)
			if r, ok := e.memoryOf(ctx, t, auth); ok {
				e.rep.Memory = append(e.rep.Memory, r)
			}
		}
	}
}

func (e *env) memoryOf(ctx context.Context, target, auth string) (memoryResult, bool) {
	res := memoryResult{Target: target, Auth: auth, Clients: e.o.idleClients, KBPerClient: nan}
	proc, ep, pprofAddr, err := e.freshPoolerProfiled(ctx, target, auth)
	if err != nil {
		e.rep.skip(scMemory, target, "%v", err)
		e.say("      skipped: %v", err)
		return res, false
	}
	defer proc.stop(5 * time.Second)
	time.Sleep(500 * time.Millisecond) // let the pool finish warming
	pid := proc.cmd.Process.Pid
	if res.RSSBeforeKB, err = rssKB(pid); err != nil {
		res.Error = err.Error()
		return res, true
	}
	conns, err := openIdle(ctx, ep, e.o.idleClients)
	defer closeAll(conns)
	if err != nil {
		res.Error = fmt.Sprintf("%d of %d clients connected: %v", len(conns), e.o.idleClients, err)
		e.say("      %s", res.Error)
	}
	time.Sleep(time.Second)
	if res.RSSAfterKB, err = rssKB(pid); err != nil {
		res.Error = err.Error()
		return res, true
	}
	if len(conns) > 0 {
		res.Clients = len(conns)
		res.KBPerClient = num(float64(res.RSSAfterKB-res.RSSBeforeKB) / float64(len(conns)))
	}
	e.say("      RSS %d KiB → %d KiB: %.2f KiB per client", res.RSSBeforeKB, res.RSSAfterKB, float64(res.KBPerClient))
	if pprofAddr != "" {
		name := fmt.Sprintf("pgmoat-memory-%s.heap.txt", strings.ReplaceAll(auth, "-", ""))
		if err := os.MkdirAll(e.o.out, 0o755); err != nil {
			e.say("      no heap profile: %v", err)
		} else if err := fetch(ctx, "http://"+pprofAddr+"/debug/pprof/heap?debug=1", filepath.Join(e.o.out, name)); err != nil {
			e.say("      no heap profile: %v", err)
		} else {
			e.say("      heap profile: %s", name)
		}
	}
	return res, true
}

// freshPooler starts a new instance of target for the memory scenario, so
// that earlier load does not sit in its heap.
func (e *env) freshPooler(ctx context.Context, target, auth string) (*child, endpoint, error) {
	proc, ep, _, err := e.freshPoolerProfiled(ctx, target, auth)
	return proc, ep, err
}

// freshPoolerProfiled is freshPooler that also returns pgmoat's profiling
// endpoint.
func (e *env) freshPoolerProfiled(ctx context.Context, target, auth string) (proc *child, ep endpoint, pprofAddr string, err error) {
	switch target {
	case tPgBouncer:
		proc, addr, err := e.startPgBouncer(ctx, auth)
		return proc, endpoint{name: target, addr: addr, user: benchRole, password: benchPassword, db: pgbenchDB}, "", err
	default:
		in, err := e.startPgmoat(ctx, "pgmoat-memory", pgbenchDB, benchRole, benchPassword, auth)
		if err != nil {
			return nil, endpoint{}, "", err
		}
		return in.proc, endpoint{name: target, addr: in.proxyAddr, user: proxyUser, password: proxyPassword, db: pgbenchDB}, in.pprofAddr, nil
	}
}

// openIdle opens n authenticated connections and leaves them idle. It
// returns the ones it opened even when some failed.
func openIdle(ctx context.Context, ep endpoint, n int) ([]*pgconn.PgConn, error) {
	host, port, _ := strings.Cut(ep.addr, ":")
	cfg, err := pgconn.ParseConfig(fmt.Sprintf("host=%s port=%s dbname=%s sslmode=disable connect_timeout=30", host, port, ep.db))
	if err != nil {
		return nil, err
	}
	cfg.User, cfg.Password = ep.user, ep.password
	var (
		mu      sync.Mutex
		conns   = make([]*pgconn.PgConn, 0, n)
		next    atomic.Int64
		firstMu sync.Mutex
		first   error
		wg      sync.WaitGroup
	)
	for range connectWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) && ctx.Err() == nil {
				c, err := pgconn.ConnectConfig(ctx, cfg)
				if err != nil {
					firstMu.Lock()
					if first == nil {
						first = err
					}
					firstMu.Unlock()
					return
				}
				mu.Lock()
				conns = append(conns, c)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return conns, first
}

func closeAll(conns []*pgconn.PgConn) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, c := range conns {
		_ = c.Close(ctx)
	}
}

// rssKB reads VmRSS of a process from /proc.
func rssKB(pid int) (int64, error) {
	v := procField(fmt.Sprintf("/proc/%d/status", pid), "VmRSS")
	if v == "" {
		_, err := os.Stat(fmt.Sprintf("/proc/%d", pid))
		return 0, fmt.Errorf("no VmRSS for pid %d: %v", pid, err)
	}
	return strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(v, "kB")), 10, 64)
}
