package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/pgmoat/pgmoat/integration/pgcluster"
)

// tPgmoatReplicas is pgmoat reading from two streaming replicas of the
// benchmark's server.
const tPgmoatReplicas = "pgmoat+2 replicas"

// replicaResult is scenario 7: the same pgbench -S through pgmoat on the
// primary alone and through pgmoat reading from two replicas on the same
// machine.
type replicaResult struct {
	Cells []cell `json:"cells"`
	// Hosts is how the replica instance's lendings fell on its hosts
	// during the run (from pgmoat_host_acquired_total).
	Hosts []hostShare `json:"hosts"`
}

type hostShare struct {
	Host string `json:"host"`
	Role string `json:"role"`
	Lent int64  `json:"lent"`
}

// replicaCaveat says what one machine can and cannot show.
const replicaCaveat = "All three servers share this machine's cores, so the run cannot show the throughput replicas add: " +
	"it shows that reads spread over the replicas and none reach the primary while they qualify, that no transaction fails, " +
	"and the routing's cost (host choice, per-host pools, the health checks) as the difference to pgmoat on the primary alone. " +
	"The gain needs each replica on cores (and disks) of its own."

// replicas is scenario 7.
func (e *env) replicas(ctx context.Context) {
	primaryOnly, ok := e.eps[tPgmoat]
	if !ok {
		e.rep.skip(scReplicas, tPgmoatReplicas, "pgmoat did not start")
		return
	}
	e.step("start two streaming replicas and pgmoat on them")
	var ports []int
	for range 2 {
		r, err := e.cluster.StartReplica(ctx, pgcluster.Options{})
		if err == nil {
			defer r.Close()
			err = e.cluster.WaitReplayed(ctx, r)
		}
		if err != nil {
			e.rep.skip(scReplicas, tPgmoatReplicas, "streaming replica: %v", err)
			return
		}
		ports = append(ports, r.Port())
	}
	in, err := e.startPgmoat(ctx, "pgmoat-replicas", pgbenchDB, benchRole, benchPassword, authSCRAM, ports...)
	if err != nil {
		e.rep.skip(scReplicas, tPgmoatReplicas, "%v", err)
		return
	}
	defer in.proc.stop(5 * time.Second)
	withReplicas := endpoint{name: tPgmoatReplicas, addr: in.proxyAddr, user: proxyUser, password: proxyPassword, db: pgbenchDB}
	job := pgbenchJob{mode: "extended", clients: 16, duration: e.o.duration}
	res := &replicaResult{}
	cells := []cell{{Mode: job.mode, Clients: job.clients, Target: tPgmoat}, {Mode: job.mode, Clients: job.clients, Target: tPgmoatReplicas}}
	for round := range e.o.rounds {
		for i, ep := range []endpoint{primaryOnly, withReplicas} {
			if ctx.Err() != nil {
				return
			}
			e.step("pgbench -S -M %s c=%d %s (round %d/%d)", job.mode, job.clients, ep.name, round+1, e.o.rounds)
			r := e.runPgbench(ctx, ep, job)
			e.sayRun(r)
			cells[i].Runs = append(cells[i].Runs, r)
		}
	}
	for i := range cells {
		cells[i].summarize()
	}
	res.Cells = cells
	res.Hosts, err = hostShares(in.mcpAddr)
	if err != nil {
		e.rep.note("replicas: reading the per-host counters: %v", err)
	}
	e.rep.Replicas = res
}

var reHostAcquired = regexp.MustCompile(`(?m)^pgmoat_host_acquired_total\{host="([^"]+)",role="(\w+)"\} (\S+)$`)

// hostShares reads pgmoat_host_acquired_total from an instance's
// /metrics, trying for up to half a minute (the MCP listener starts after
// the schema is read).
func hostShares(mcpAddr string) ([]hostShare, error) {
	client := http.Client{Timeout: 5 * time.Second}
	var resp *http.Response
	var err error
	for deadline := time.Now().Add(30 * time.Second); ; {
		if resp, err = client.Get("http://" + mcpAddr + "/metrics"); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	var out []hostShare
	for _, m := range reHostAcquired.FindAllSubmatch(body, -1) {
		v, _ := strconv.ParseFloat(string(m[3]), 64)
		out = append(out, hostShare{Host: string(m[1]), Role: string(m[2]), Lent: int64(v)})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no pgmoat_host_acquired_total in /metrics")
	}
	return out, nil
}

func writeReplicas(w writer, r *report) {
	if r.Replicas == nil {
		return
	}
	w("\n## 7. Read replicas\n")
	w("%s\n", replicaCaveat)
	w("| target | tps | avg latency ms | p99 ms | failed tx |")
	w("|---|---:|---:|---:|---:|")
	for _, c := range r.Replicas.Cells {
		w("| %s, -M %s, %d clients | %s | %s | %s | %d |", c.Target, c.Mode, c.Clients, tpsText(c), msText(c.Median.LatAvgMs), msText(c.Median.P99Ms), c.Median.Failed)
	}
	writeCellErrors(w, r.Replicas.Cells)
	if len(r.Replicas.Hosts) > 0 {
		w("\nLendings of the replica instance by host (the primary's are its warm-up only):\n")
		w("| host | role | lent |")
		w("|---|---|---:|")
		for _, h := range r.Replicas.Hosts {
			w("| %s | %s | %d |", h.Host, h.Role, h.Lent)
		}
	}
}
