package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// pprofProposal is the change to cmd/pgmoat this scenario needs when pgmoat
// serves no profiles.
const pprofProposal = "pgmoat exposes no pprof endpoint. Proposed change in cmd/pgmoat (serve): when the " +
	"environment variable " + pprofEnv + "=host:port is set, start net/http/pprof's handlers on a private " +
	"http.ServeMux listening there (loopback only, never on proxy.listen or mcp.listen), and stop it with the stack. " +
	"The harness already sets " + pprofEnv + " and collects the profiles as soon as the endpoint answers."

// profile saves CPU and allocation profiles of pgmoat under pgbench -S
// -M extended at 64 clients, next to the report.
func (e *env) profile(ctx context.Context) {
	ep, ok := e.eps[tPgmoat]
	if !ok || e.pgmoat == nil {
		e.rep.skip(scProfile, tPgmoat, "pgmoat is not running")
		return
	}
	base := "http://" + e.pgmoat.pprofAddr + "/debug/pprof/"
	if err := httpOK(ctx, base); err != nil {
		e.rep.skip(scProfile, tPgmoat, "%s", pprofProposal)
		e.say("  skipped: no pprof endpoint (%v)", err)
		return
	}
	if err := os.MkdirAll(e.o.out, 0o755); err != nil {
		e.rep.skip(scProfile, tPgmoat, "%v", err)
		return
	}
	secs := int(max(e.o.duration, 5*time.Second).Seconds())
	e.step("profile pgmoat under pgbench -S -M extended c=64 for %ds", secs)
	done := make(chan run, 1)
	go func() {
		done <- e.runPgbench(ctx, ep, pgbenchJob{mode: "extended", clients: 64, duration: time.Duration(secs+2) * time.Second})
	}()
	time.Sleep(time.Second) // past connection set-up
	cpu := filepath.Join(e.o.out, "pgmoat-cpu.pprof")
	err := fetch(ctx, fmt.Sprintf("%sprofile?seconds=%d", base, secs), cpu)
	if err == nil {
		err = fetch(ctx, base+"allocs", filepath.Join(e.o.out, "pgmoat-allocs.pprof"))
	}
	e.sayRun(<-done)
	if err != nil {
		e.rep.skip(scProfile, tPgmoat, "collect profiles: %v", err)
		return
	}
	e.rep.Profiles = append(e.rep.Profiles, "pgmoat-cpu.pprof", "pgmoat-allocs.pprof")
	for _, p := range []struct{ in, out, sample string }{
		{"pgmoat-cpu.pprof", "pgmoat-cpu-top.txt", ""},
		{"pgmoat-allocs.pprof", "pgmoat-allocs-top.txt", "-sample_index=alloc_space"},
	} {
		if e.pprofTop(ctx, p.in, p.out, p.sample) == nil {
			e.rep.Profiles = append(e.rep.Profiles, p.out)
		}
	}
	split, err := e.cpuSplit(ctx, "pgmoat-cpu.pprof")
	if err != nil {
		e.rep.note("the CPU profile could not be split by kind of work: %v", err)
	}
	e.rep.CPUSplit = split
}

// pprofTop writes `go tool pprof -top` of a profile next to it.
func (e *env) pprofTop(ctx context.Context, in, out, sample string) error {
	args := []string{"tool", "pprof", "-top", "-nodecount=30"}
	if sample != "" {
		args = append(args, sample)
	}
	args = append(args, e.pgmoatBin, filepath.Join(e.o.out, in))
	text, err := exec.CommandContext(ctx, "go", args...).Output()
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(e.o.out, out), text, 0o644)
}

func httpOK(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	resp, err := getOK(ctx, url)
	if err != nil {
		return err
	}
	return resp.Body.Close()
}

// getOK GETs url; any status but 200 is an error (and the body closed).
func getOK(ctx context.Context, url string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		_ = resp.Body.Close()
		return nil, fmt.Errorf("%s: %s", url, resp.Status)
	}
	return resp, nil
}

func fetch(ctx context.Context, url, path string) error {
	resp, err := getOK(ctx, url)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}
