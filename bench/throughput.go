package main

import (
	"context"
	"fmt"
	"time"
)

// endpoints returns the pgbench targets that are up, in the order the
// harness alternates between them.
func (e *env) endpoints() []endpoint {
	var out []endpoint
	for _, t := range e.o.targets {
		if ep, ok := e.eps[t]; ok {
			out = append(out, ep)
		}
	}
	return out
}

// throughput is scenario 1: pgbench -S per mode and client count, targets
// alternating within each round.
func (e *env) throughput(ctx context.Context) {
	for _, mode := range e.o.modes {
		for _, clients := range e.o.clients {
			job := pgbenchJob{mode: mode, clients: clients, duration: e.o.duration}
			cells := e.alternate(ctx, job)
			e.traceSyscalls(ctx, job, cells)
			e.rep.Throughput = append(e.rep.Throughput, cells...)
		}
	}
}

// storms is scenario 2: a new connection per transaction, and many more
// clients than backend connections.
func (e *env) storms(ctx context.Context) {
	e.rep.Storms = append(e.rep.Storms, e.alternate(ctx, pgbenchJob{mode: "simple", clients: 16, connect: true, duration: e.o.duration})...)
	e.rep.Storms = append(e.rep.Storms, e.alternate(ctx, pgbenchJob{mode: "extended", clients: e.o.stormClients, duration: e.o.duration})...)
}

// alternate runs job against every endpoint, round by round (A B C A B C),
// so that drift in the machine's load spreads over all targets alike.
func (e *env) alternate(ctx context.Context, job pgbenchJob) []cell {
	eps := e.endpoints()
	cells := make([]cell, len(eps))
	for i, ep := range eps {
		cells[i] = cell{Mode: job.mode, Clients: job.clients, Connect: job.connect, Target: ep.name}
		if reason, ok := e.unsupported[unsupportedKey(ep.name, job)]; ok {
			cells[i].Unsupported = reason
		}
	}
	for round := range e.o.rounds {
		for i, ep := range eps {
			if cells[i].Unsupported != "" || ctx.Err() != nil {
				continue
			}
			e.step("pgbench -S -M %s c=%d%s %s (round %d/%d)", job.mode, job.clients, connectFlag(job), ep.name, round+1, e.o.rounds)
			r := e.runPgbench(ctx, ep, job)
			e.sayRun(r)
			cells[i].Runs = append(cells[i].Runs, r)
		}
	}
	for i := range cells {
		cells[i].summarize()
	}
	return cells
}

// traceSyscalls adds each pooler's system calls per transaction to its
// cell, from one more run under strace (skipped when strace is missing).
func (e *env) traceSyscalls(ctx context.Context, job pgbenchJob, cells []cell) {
	if straceBin() == "" {
		return
	}
	for i, ep := range e.endpoints() {
		if ep.pid == 0 || cells[i].Unsupported != "" || ctx.Err() != nil {
			continue
		}
		e.step("pgbench -S -M %s c=%d %s under strace -c", job.mode, job.clients, ep.name)
		cells[i].Syscalls = e.countSyscalls(ctx, ep, job)
	}
}

func connectFlag(j pgbenchJob) string {
	if j.connect {
		return " -C"
	}
	return ""
}

func unsupportedKey(target string, j pgbenchJob) string { return target + "/" + j.mode }

// probePreparedOnPgBouncer shows, rather than assumes, that PgBouncer in
// transaction mode cannot run -M prepared: it runs it once and records
// the error for every prepared cell of PgBouncer.
func (e *env) probePreparedOnPgBouncer(ctx context.Context) {
	ep, ok := e.eps[tPgBouncer]
	if !ok {
		return
	}
	e.step("pgbench -S -M prepared c=16 pgbouncer (capability probe)")
	r := e.runPgbench(ctx, ep, pgbenchJob{mode: "prepared", clients: 16, duration: 2 * time.Second})
	e.sayRun(r)
	if r.Error == "" && r.Failed == 0 {
		return
	}
	reason := fmt.Sprintf("PgBouncer in transaction mode cannot run -M prepared: %s", firstNonEmpty(r.Error, fmt.Sprintf("%d failed transactions", r.Failed)))
	e.unsupported[unsupportedKey(tPgBouncer, pgbenchJob{mode: "prepared"})] = reason
	e.rep.note("%s", reason)
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
