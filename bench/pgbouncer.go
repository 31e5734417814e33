package main

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/pgmoat/pgmoat/integration/pgbouncer"
)

// startPgBouncer runs PgBouncer in front of the pgbench database in
// transaction mode with pgmoat's pool size, client limit and wait
// timeout, authenticating clients as pgmoat does (SCRAM, like PostgreSQL,
// unless a memory run asks for md5). It runs as the server account (it
// refuses root), supervised like every other child of the run.
func (e *env) startPgBouncer(ctx context.Context, auth string) (*child, string, error) {
	dir, err := e.tempDirFor("pgbouncer-")
	if err != nil {
		return nil, "", err
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, "", err
	}
	_, portText, _ := strings.Cut(addr, ":")
	port, err := strconv.Atoi(portText)
	if err != nil {
		return nil, "", err
	}
	pool := strconv.Itoa(e.o.pool)
	cmd, err := pgbouncer.Command(dir, port, pgbouncer.Options{
		ServerHost: "127.0.0.1", ServerPort: e.cluster.Port(), Database: pgbenchDB,
		User: benchRole, Password: benchPassword, AuthType: auth,
		PoolSize: e.o.pool, MaxClientConn: e.o.idleClients + 2000,
		Extra: map[string]string{
			"min_pool_size": pool, "max_db_connections": pool, "query_wait_timeout": "10",
			"log_connections": "0", "log_disconnections": "0",
		},
	})
	if err != nil {
		return nil, "", err
	}
	c, err := e.sup.startListening(ctx, "pgbouncer", cmd, filepath.Join(dir, "pgbouncer.out"), addr, 15*time.Second)
	if err != nil {
		return nil, "", fmt.Errorf("pgbouncer: %w (see its log)", err)
	}
	return c, addr, nil
}

// pgbouncerVersion is the first line of `pgbouncer --version`.
func pgbouncerVersion() string {
	bin, err := pgbouncer.Binary()
	if err != nil {
		return "not installed"
	}
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		return "not installed"
	}
	return firstLine(string(out))
}
