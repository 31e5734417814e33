package main

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// pgmoatReady is what `pgmoat serve` prints once the proxy listens.
const pgmoatReady = "proxy listening on"

// pprofEnv is the environment variable that would make pgmoat serve
// net/http/pprof on an address; the harness sets it and probes for it.
const pprofEnv = "PGMOAT_PPROF"

// Client authentication methods the harness runs the poolers with.
const (
	authSCRAM = "scram-sha-256"
	authMD5   = "md5"
)

// mcpToken is the bearer token of the harness's MCP identity (alice).
const mcpToken = "bench-token"

// pgmoatInstance is one running `pgmoat serve`.
type pgmoatInstance struct {
	proc      *child
	proxyAddr string
	mcpAddr   string
	pprofAddr string
	config    string
}

// pgmoatConfig is a strict-YAML config for one instance. Every value is
// quoted by %q, which YAML reads as a double-quoted string. The one
// benchmark user may hold the whole pool, as every client of PgBouncer's
// single pool may. Statements may run for a minute: the fault scenario's
// 50 MB values take longer than the default 5 s on a loaded machine, and
// PgBouncer has no such limit. auth is proxy.auth (scram-sha-256 or md5);
// replicas are DSNs of streaming replicas to read from.
func pgmoatConfig(dsn, proxyAddr, mcpAddr string, pool, maxClients int, auth string, replicas ...string) string {
	reps := ""
	if len(replicas) > 0 {
		reps = "  replicas:\n"
		for _, r := range replicas {
			reps += fmt.Sprintf("    - %q\n", r)
		}
	}
	return fmt.Sprintf(`backend:
  dsn: %q
%s  pool:
    min: %d
    max: %d
    max_per_identity: %d
    acquire_timeout: 10s
proxy:
  listen: %q
  max_client_conn: %d
  auth: %q
profiles:
  readonly:
    statement_timeout: 60s
users:
  %s:
    password: %q
    user_id: "1"
    profile: readonly
mcp:
  listen: %q
  tokens:
    %s:
      user_id: "1"
      profile: readonly
  anonymous:
    user_id: "1"
    profile: readonly
`, dsn, reps, pool, pool, pool, proxyAddr, maxClients, auth, proxyUser, proxyPassword, mcpAddr, mcpToken)
}

// startPgmoat runs `pgmoat serve` against db through role/password, with
// proxy.auth auth, reading from replicas (ports of streaming replicas of
// the cluster) when any are given.
func (e *env) startPgmoat(ctx context.Context, name, db, role, password, auth string, replicas ...int) (*pgmoatInstance, error) {
	if e.pgmoatBin == "" {
		return nil, fmt.Errorf("pgmoat was not built: %s", e.pgmoatBuildErr)
	}
	in := &pgmoatInstance{}
	var err error
	for _, a := range []*string{&in.proxyAddr, &in.mcpAddr, &in.pprofAddr} {
		if *a, err = freeAddr(); err != nil {
			return nil, err
		}
	}
	dsnAt := func(port int) string {
		return (&url.URL{Scheme: "postgres", User: url.UserPassword(role, password),
			Host: fmt.Sprintf("127.0.0.1:%d", port), Path: "/" + db, RawQuery: "sslmode=disable"}).String()
	}
	dsn := dsnAt(e.cluster.Port())
	var replicaDSNs []string
	for _, port := range replicas {
		replicaDSNs = append(replicaDSNs, dsnAt(port))
	}
	dir, err := os.MkdirTemp(e.tmp, name+"-")
	if err != nil {
		return nil, err
	}
	in.config = filepath.Join(dir, "pgmoat.yaml")
	text := pgmoatConfig(dsn, in.proxyAddr, in.mcpAddr, e.o.pool, e.o.idleClients+2000, auth, replicaDSNs...)
	if err := os.WriteFile(in.config, []byte(text), 0o600); err != nil {
		return nil, err
	}
	cmd := exec.Command(e.pgmoatBin, "serve", "--config", in.config)
	cmd.Env = append(os.Environ(), pprofEnv+"="+in.pprofAddr)
	in.proc, err = e.sup.startUntil(ctx, name, cmd, filepath.Join(dir, "pgmoat.log"), pgmoatReady, 30*time.Second)
	if err != nil {
		return nil, err
	}
	return in, nil
}

// pgmoatVersion is the first line of `pgmoat version`.
func (e *env) pgmoatVersion() string {
	if e.pgmoatBin == "" {
		return "not built"
	}
	out, _ := exec.Command(e.pgmoatBin, "version").CombinedOutput()
	return strings.TrimSpace(firstLine(string(out)))
}
