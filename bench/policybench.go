package main

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
)

// policy is scenario 6: the policy engine's own Go benchmarks (verdict
// cache hit and miss, and the parser reference), run from a test binary
// built during set-up.
func (e *env) policy(ctx context.Context) {
	if e.policyBin == "" {
		e.rep.skip(scPolicy, "", "the policy benchmarks did not build: %v", e.policyBuildErr)
		return
	}
	e.step("go test -bench . ./policy")
	cmd := exec.CommandContext(ctx, e.policyBin, "-test.run", "^$", "-test.bench", ".", "-test.benchmem",
		"-test.benchtime", e.o.benchtime)
	cmd.Dir = e.root + "/policy" // benchmarks may read testdata/
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		e.rep.skip(scPolicy, "", "policy benchmarks failed: %v: %s", err, truncate(strings.TrimSpace(out.String()+stderr.String()), 300))
		return
	}
	benches, err := parseGoBench(&out)
	if err != nil {
		e.rep.skip(scPolicy, "", "%v", err)
		return
	}
	for _, b := range benches {
		e.say("      %-40s %10.0f ns/op %8.0f B/op %6.0f allocs/op", b.Name, float64(b.NsPerOp), float64(b.BytesPerOp), float64(b.AllocsPerOp))
	}
	e.rep.Policy = benches
}
