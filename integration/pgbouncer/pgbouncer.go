package pgbouncer

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgmoat/pgmoat/integration/pgcluster"
)

// ErrNotInstalled says how to get PgBouncer.
var ErrNotInstalled = errors.New("pgbouncer is not installed: `sudo apt-get install -y pgbouncer` (or run .ci/deps)")

// Options configures a PgBouncer. Zero values mean the defaults.
type Options struct {
	// ServerHost and ServerPort locate PostgreSQL.
	ServerHost string
	ServerPort int
	// Database is the database name clients use and PgBouncer connects to.
	Database string
	// User and Password are the login both clients and PgBouncer use.
	User, Password string
	// PoolMode is transaction (default), session or statement.
	PoolMode string
	// AuthType is how clients log in: plain (default), md5 or
	// scram-sha-256 (the user list holds the password itself for each).
	AuthType string
	// PoolSize is default_pool_size; default 20.
	PoolSize int
	// MaxClientConn defaults to 2000.
	MaxClientConn int
	// Extra lines for the [pgbouncer] section.
	Extra map[string]string
}

// Bouncer is a running PgBouncer.
type Bouncer struct {
	dir  string
	port int
	cmd  *exec.Cmd
	done chan struct{}
}

// Binary returns the path of the pgbouncer executable.
func Binary() (string, error) {
	if p, err := exec.LookPath("pgbouncer"); err == nil {
		return p, nil
	}
	if _, err := os.Stat("/usr/sbin/pgbouncer"); err == nil {
		return "/usr/sbin/pgbouncer", nil
	}
	return "", ErrNotInstalled
}

// Start writes the configuration, starts PgBouncer on a free loopback
// port and waits until it accepts connections.
func Start(ctx context.Context, o Options) (*Bouncer, error) {
	dir, err := os.MkdirTemp("", "pgmoat-bouncer-")
	if err != nil {
		return nil, err
	}
	b := &Bouncer{dir: dir, done: make(chan struct{})}
	if err := b.start(ctx, o); err != nil {
		_ = b.Close()
		return nil, err
	}
	return b, nil
}

func (b *Bouncer) start(ctx context.Context, o Options) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	b.port = port
	cmd, err := Command(b.dir, port, o)
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start pgbouncer: %w", err)
	}
	b.cmd = cmd
	go func() { _ = cmd.Wait(); close(b.done) }()
	return b.waitReady(ctx, o)
}

// Command writes o's configuration and user list into dir, hands dir to
// the server account and returns the command that runs PgBouncer as that
// account on 127.0.0.1:port, its log in dir/pgbouncer.log. Start runs it
// and waits; a harness that supervises its processes itself (the
// benchmarks measure PgBouncer's CPU and memory) runs it its own way.
func Command(dir string, port int, o Options) (*exec.Cmd, error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	o = o.withDefaults()
	ini := fmt.Sprintf(`[databases]
%s = host=%s port=%d dbname=%s

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %d
unix_socket_dir =
auth_type = %s
auth_file = %s
pool_mode = %s
default_pool_size = %d
max_client_conn = %d
logfile = %s
pidfile = %s
ignore_startup_parameters = extra_float_digits,options
`, o.Database, o.ServerHost, o.ServerPort, o.Database, port, o.AuthType, filepath.Join(dir, "users.txt"),
		o.PoolMode, o.PoolSize, o.MaxClientConn, filepath.Join(dir, "pgbouncer.log"), filepath.Join(dir, "pgbouncer.pid"))
	for k, v := range o.Extra {
		ini += k + " = " + v + "\n"
	}
	users := fmt.Sprintf("%q %q\n", o.User, o.Password)
	if err := os.WriteFile(filepath.Join(dir, "pgbouncer.ini"), []byte(ini), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "users.txt"), []byte(users), 0o644); err != nil {
		return nil, err
	}
	account, err := pgcluster.LookupServerAccount()
	if err != nil {
		return nil, err
	}
	if err := account.Own(dir); err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, filepath.Join(dir, "pgbouncer.ini"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: account.Credential(), Pdeathsig: syscall.SIGKILL}
	return cmd, nil
}

// withDefaults fills in the zero options.
func (o Options) withDefaults() Options {
	if o.PoolMode == "" {
		o.PoolMode = "transaction"
	}
	if o.AuthType == "" {
		o.AuthType = "plain"
	}
	if o.PoolSize == 0 {
		o.PoolSize = 20
	}
	if o.MaxClientConn == 0 {
		o.MaxClientConn = 2000
	}
	return o
}

func (b *Bouncer) waitReady(ctx context.Context, o Options) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	dsn := b.DSN(o.User, o.Password, o.Database)
	for {
		c, err := pgconn.Connect(ctx, dsn)
		if err == nil {
			return c.Close(ctx)
		}
		select {
		case <-b.done:
			log, _ := os.ReadFile(filepath.Join(b.dir, "pgbouncer.log"))
			return fmt.Errorf("pgbouncer exited during start-up: %s", strings.TrimSpace(string(log)))
		case <-ctx.Done():
			return fmt.Errorf("pgbouncer did not accept connections: %w", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Port is the port PgBouncer listens on (127.0.0.1).
func (b *Bouncer) Port() int { return b.port }

// PID is PgBouncer's process id.
func (b *Bouncer) PID() int { return b.cmd.Process.Pid }

// DSN is a connection string through PgBouncer.
func (b *Bouncer) DSN(user, password, db string) string {
	return fmt.Sprintf("host=127.0.0.1 port=%d user=%s password=%s dbname=%s sslmode=disable", b.port, user, password, db)
}

// Close stops PgBouncer and removes its directory. Safe to call twice.
func (b *Bouncer) Close() error {
	if b.cmd != nil && b.cmd.Process != nil {
		_ = b.cmd.Process.Signal(syscall.SIGTERM) // immediate shutdown
		select {
		case <-b.done:
		case <-time.After(5 * time.Second):
			_ = b.cmd.Process.Kill()
			<-b.done
		}
		b.cmd = nil
	}
	return os.RemoveAll(b.dir)
}
