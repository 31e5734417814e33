package main

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// say prints one progress line.
func (e *env) say(format string, args ...any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	fmt.Fprintf(e.w, format+"\n", args...)
}

// step prints a numbered progress line for one measurement.
func (e *env) step(format string, args ...any) {
	e.mu.Lock()
	e.stepN++
	n := e.stepN
	e.steps = max(e.steps, n)
	e.mu.Unlock()
	e.say("[%d/%d] %s …", n, e.steps, fmt.Sprintf(format, args...))
}

func (e *env) verbosef(format string, args ...any) {
	if e.o.verbose {
		e.say("    $ "+format, args...)
	}
}

// sayRun prints the outcome of one pgbench run.
func (e *env) sayRun(r run) {
	if r.Error != "" {
		e.say("      failed: %s", r.Error)
		return
	}
	e.say("      %.0f tps, avg %.2f ms, p99 %.2f ms, %d failed", float64(r.TPS), float64(r.LatAvgMs), float64(r.P99Ms), r.Failed)
}

func contains(list []string, s string) bool { return slices.Contains(list, s) }

// moduleRoot is the directory holding go.mod.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == "/dev/null" {
		return "", fmt.Errorf("run the harness from inside the pgmoat module")
	}
	return filepath.Dir(mod), nil
}
