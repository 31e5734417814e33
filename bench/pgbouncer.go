package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/pgmoat/pgmoat/integration/pgcluster"
)

// pgbouncerBin is where the Debian package installs PgBouncer.
const pgbouncerBin = "/usr/sbin/pgbouncer"

// pgbouncerConf is PgBouncer in transaction mode with pgmoat's pool size,
// client limit and wait timeout, authenticating clients as pgmoat does
// (SCRAM, like PostgreSQL, unless a memory run asks for md5).
const pgbouncerConf = `[databases]
%[1]s = host=127.0.0.1 port=%[2]d dbname=%[1]s

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %[3]s
unix_socket_dir =
auth_type = %[7]s
auth_file = %[4]s/userlist.txt
pool_mode = transaction
default_pool_size = %[5]d
min_pool_size = %[5]d
max_db_connections = %[5]d
max_client_conn = %[6]d
query_wait_timeout = 10
ignore_startup_parameters = extra_float_digits
logfile = %[4]s/pgbouncer.log
pidfile = %[4]s/pgbouncer.pid
log_connections = 0
log_disconnections = 0
`

// startPgBouncer runs PgBouncer as the server account (it refuses root) in
// front of the pgbench database.
func (e *env) startPgBouncer(ctx context.Context, auth string) (*child, string, error) {
	if _, err := os.Stat(pgbouncerBin); err != nil {
		return nil, "", fmt.Errorf("PgBouncer is not installed (%s missing; Debian package pgbouncer)", pgbouncerBin)
	}
	dir, err := e.tempDirFor("pgbouncer-")
	if err != nil {
		return nil, "", err
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, "", err
	}
	_, port, _ := strings.Cut(addr, ":")
	conf := fmt.Sprintf(pgbouncerConf, pgbenchDB, e.cluster.Port(), port, dir, e.o.pool, e.o.idleClients+2000, auth)
	users := fmt.Sprintf("%q %q\n", benchRole, benchPassword)
	if err := writeFiles(dir, map[string]string{"pgbouncer.ini": conf, "userlist.txt": users}); err != nil {
		return nil, "", err
	}
	cmd := exec.Command(pgbouncerBin, filepath.Join(dir, "pgbouncer.ini"))
	if err := runAsServerAccount(cmd, dir); err != nil {
		return nil, "", err
	}
	c, err := e.sup.startListening(ctx, "pgbouncer", cmd, filepath.Join(dir, "pgbouncer.out"), addr, 15*time.Second)
	if err != nil {
		return nil, "", fmt.Errorf("pgbouncer: %w (see its log)", err)
	}
	return c, addr, nil
}

// runAsServerAccount makes cmd run as "postgres" when the harness is root,
// and hands dir to that account.
func runAsServerAccount(cmd *exec.Cmd, dir string) error {
	account, err := pgcluster.LookupServerAccount()
	if err != nil {
		return err
	}
	if err := account.Own(dir); err != nil {
		return err
	}
	if cred := account.Credential(); cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	}
	return nil
}

func writeFiles(dir string, files map[string]string) error {
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			return err
		}
	}
	return nil
}

// pgbouncerVersion is the first line of `pgbouncer --version`.
func pgbouncerVersion() string {
	out, err := exec.Command(pgbouncerBin, "--version").Output()
	if err != nil {
		return "not installed"
	}
	return firstLine(string(out))
}
