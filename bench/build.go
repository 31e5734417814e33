package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// build compiles pgmoat, the introspection timer and the policy
// benchmarks. They are separate binaries so that a package that does not
// build skips only the scenario that needs it.
func (e *env) build(ctx context.Context) {
	start := time.Now()
	if e.o.pgmoatBin != "" {
		e.pgmoatBin, e.pgmoatBuildErr = filepath.Abs(e.o.pgmoatBin)
	} else {
		bin := filepath.Join(e.tmp, "pgmoat")
		if e.pgmoatBuildErr = e.goCmd(ctx, "build", "-o", bin, "./cmd/pgmoat"); e.pgmoatBuildErr == nil {
			e.pgmoatBin = bin
		}
	}
	if e.o.wants(scIntrospect) {
		bin := filepath.Join(e.tmp, "introspecttime")
		if e.introBuildErr = e.goCmd(ctx, "build", "-o", bin, "./bench/internal/introspecttime"); e.introBuildErr == nil {
			e.introBin = bin
		}
	}
	if e.o.wants(scPolicy) {
		bin := filepath.Join(e.tmp, "policy.test")
		if e.policyBuildErr = e.goCmd(ctx, "test", "-c", "-o", bin, "./policy"); e.policyBuildErr == nil {
			e.policyBin = bin
		}
	}
	e.say("  binaries built in %s", time.Since(start).Round(time.Millisecond))
}

func (e *env) goCmd(ctx context.Context, args ...string) error {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = e.root
	_, err := combinedOutput(cmd, "go "+strings.Join(args, " "), 600)
	return err
}

// npmPackage is a package and the version spec it is installed at.
type npmPackage struct{ name, spec string }

// peerPackages are the npm MCP servers the MCP scenario compares with, at
// their current releases, and the Node.js they run on: DBHub 1.x needs
// Node 22.5 or later, which npm's "node" package brings as a binary, and
// without which npm quietly installs an old DBHub that runs on the
// machine's Node. The versions installed are printed in the report.
var peerPackages = []npmPackage{{"@modelcontextprotocol/server-postgres", "latest"}, {"@bytebase/dbhub", "latest"}, {"node", "22"}}

func peerSpecs() []string {
	var out []string
	for _, p := range peerPackages {
		out = append(out, p.name+"@"+p.spec)
	}
	return out
}

// installPeers installs the npm peers once into the run's directory, so
// that starting a session is starting node, not npx resolving a package.
// HOME points into the run's directory too: npm's cache goes with it.
func (e *env) installPeers(ctx context.Context) {
	if !e.o.wants(scMCP) || !e.o.wantsPeers() {
		return
	}
	if _, err := exec.LookPath("npm"); err != nil {
		e.npmErr = fmt.Errorf("npm is not installed: %w", err)
		return
	}
	dir := filepath.Join(e.tmp, "npm")
	if err := os.MkdirAll(filepath.Join(dir, "home"), 0o755); err != nil {
		e.npmErr = err
		return
	}
	start := time.Now()
	env := append(os.Environ(), "HOME="+filepath.Join(dir, "home"))
	if err := npmInstall(ctx, dir, env, "npm install "+strings.Join(peerSpecs(), " "), peerSpecs()...); err != nil {
		e.npmErr = err
		return
	}
	e.npmDir = dir
	e.say("  npm peers installed in %s", time.Since(start).Round(time.Millisecond))
}

// npmEnv is the environment the peers run with: the installed node
// first on PATH, for the peers' "#!/usr/bin/env node".
func (e *env) npmEnv() []string {
	return append(os.Environ(), "HOME="+filepath.Join(e.npmDir, "home"),
		"PATH="+filepath.Join(e.npmDir, "node_modules", ".bin")+string(os.PathListSeparator)+os.Getenv("PATH"))
}
