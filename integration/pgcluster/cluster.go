package pgcluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// Superuser is the bootstrap superuser of every cluster.
const Superuser = "postgres"

// Options configures a cluster. The zero value is a test cluster on a free
// port with fsync off and the server's default max_connections.
type Options struct {
	// BinDir holds initdb and postgres; "" means FindBinDir.
	BinDir string
	// Port to listen on; 0 picks a free one.
	Port int
	// MaxConnections sets max_connections; 0 keeps the server default (100).
	MaxConnections int
	// Durable keeps fsync on. Tests and demos leave it off: the data is
	// thrown away anyway and fsync makes loading slow.
	Durable bool
	// Settings are extra postgresql.conf settings (name → value).
	Settings map[string]string
	// Progress, when set, receives one line per step ("initdb", "starting").
	Progress func(step string)
}

// Cluster is one running throwaway PostgreSQL server. It owns its process
// and its directory; Close releases both.
type Cluster struct {
	binDir  string
	dir     string // private temporary directory; removed by Close
	dataDir string
	sockDir string
	port    int
	account ServerAccount

	cmd      *exec.Cmd
	exited   chan struct{} // closed when the postmaster has exited
	exitErr  error
	closeMu  sync.Mutex
	closed   bool
	closeErr error
}

// startTimeout bounds how long a server may take to accept connections.
const startTimeout = 30 * time.Second

// Start creates, starts and waits for a new cluster. On any failure it
// removes whatever it had created before returning the error.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	c, err := prepare(opts)
	if err != nil {
		return nil, err
	}
	if err := c.start(ctx, opts); err != nil {
		_ = c.Close()
		return nil, err
	}
	return c, nil
}

func prepare(opts Options) (*Cluster, error) {
	binDir := opts.BinDir
	if binDir == "" {
		var err error
		if binDir, err = FindBinDir(); err != nil {
			return nil, err
		}
	} else if !hasServerBinaries(binDir) {
		return nil, fmt.Errorf("%s does not contain initdb and postgres: %w", binDir, ErrNoServerBinaries)
	}
	account, err := LookupServerAccount()
	if err != nil {
		return nil, err
	}
	removeAbandonedDirs()
	dir, err := os.MkdirTemp(baseDir(), dirPrefix)
	if err != nil {
		return nil, fmt.Errorf("create cluster directory: %w", err)
	}
	c := &Cluster{
		binDir:  binDir,
		dir:     dir,
		dataDir: filepath.Join(dir, "data"),
		sockDir: filepath.Join(dir, "socket"),
		account: account,
		exited:  make(chan struct{}),
	}
	if err := os.Mkdir(c.sockDir, 0o700); err != nil {
		return nil, errors.Join(fmt.Errorf("create socket directory: %w", err), c.removeDir())
	}
	if err := account.Own(dir); err != nil {
		return nil, errors.Join(fmt.Errorf("hand %s to the server account: %w", dir, err), c.removeDir())
	}
	return c, nil
}

func (c *Cluster) start(ctx context.Context, opts Options) error {
	progress(opts, "initdb")
	if err := c.initdb(ctx); err != nil {
		return err
	}
	if err := c.writeConfig(opts); err != nil {
		return err
	}
	return c.serve(ctx, opts, "postgres")
}

// serve picks the server's port, starts it there and waits until it
// accepts connections; what names the server in the progress line.
func (c *Cluster) serve(ctx context.Context, opts Options, what string) error {
	port, err := pickPort(opts.Port)
	if err != nil {
		return err
	}
	c.port = port
	progress(opts, fmt.Sprintf("starting %s on 127.0.0.1:%d", what, port))
	if err := c.launch(); err != nil {
		return err
	}
	return c.waitReady(ctx)
}

func progress(opts Options, step string) {
	if opts.Progress != nil {
		opts.Progress(step)
	}
}

func (c *Cluster) runInitdb(ctx context.Context) error {
	cmd := c.account.command(filepath.Join(c.binDir, "initdb"), append([]string{"-D", c.dataDir}, initdbArgs...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := runContext(ctx, cmd); err != nil {
		return fmt.Errorf("initdb failed: %w\n%s", err, strings.TrimSpace(out.String()))
	}
	return nil
}

// runContext runs cmd and kills it when ctx ends first.
func runContext(ctx context.Context, cmd *exec.Cmd) error {
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		return ctx.Err()
	}
}

// writeConfig appends our settings to postgresql.conf and lets the
// superuser in from loopback without a password; everyone else needs one.
func (c *Cluster) writeConfig(opts Options) error {
	settings := map[string]string{
		"listen_addresses":        "'127.0.0.1'",
		"unix_socket_directories": quoteConf(c.sockDir),
		"logging_collector":       "off",
		"log_min_messages":        "warning",
		// Ready to be the primary of StartReplica's streaming replicas.
		"wal_level":       "replica",
		"max_wal_senders": "10",
	}
	if !opts.Durable {
		settings["fsync"] = "off"
		settings["synchronous_commit"] = "off"
		settings["full_page_writes"] = "off"
	}
	if opts.MaxConnections > 0 {
		settings["max_connections"] = strconv.Itoa(opts.MaxConnections)
	}
	for k, v := range opts.Settings {
		settings[k] = quoteConf(v)
	}
	keys := make([]string, 0, len(settings))
	for k := range settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var conf strings.Builder
	conf.WriteString("\n# pgmoat throwaway cluster\n")
	for _, k := range keys {
		fmt.Fprintf(&conf, "%s = %s\n", k, settings[k])
	}
	if err := appendFile(filepath.Join(c.dataDir, "postgresql.conf"), conf.String()); err != nil {
		return err
	}
	hba := "local all all trust\n" +
		"host all " + Superuser + " 127.0.0.1/32 trust\n" +
		"host replication " + Superuser + " 127.0.0.1/32 trust\n" +
		"host all all 127.0.0.1/32 scram-sha-256\n"
	return os.WriteFile(filepath.Join(c.dataDir, "pg_hba.conf"), []byte(hba), 0o600)
}

func quoteConf(v string) string {
	if strings.HasPrefix(v, "'") {
		return v
	}
	return "'" + strings.ReplaceAll(v, "'", "''") + "'"
}

func appendFile(path, text string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = io.WriteString(f, text)
	return errors.Join(err, f.Close())
}

// pickPort returns want when it is free, or any free loopback port when
// want is 0.
func pickPort(want int) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(want)))
	if err != nil {
		return 0, fmt.Errorf("port %d on 127.0.0.1 is in use; pick another port or stop what is listening there: %w", want, err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	return port, l.Close()
}

func (c *Cluster) logPath() string { return filepath.Join(c.dir, "postgres.log") }

func (c *Cluster) launch() error {
	logFile, err := os.OpenFile(c.logPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open server log: %w", err)
	}
	defer logFile.Close()
	cmd := c.account.command(filepath.Join(c.binDir, "postgres"), "-D", c.dataDir, "-p", strconv.Itoa(c.port))
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	c.cmd = cmd
	exited := c.exited // Restart gives each run of the server its own
	go func() {
		c.exitErr = cmd.Wait()
		close(exited)
	}()
	return nil
}

// waitReady polls until the server accepts a connection, exits, or the
// deadline passes.
func (c *Cluster) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	for {
		conn, err := pgconn.Connect(ctx, c.DSN("postgres"))
		if err == nil {
			return conn.Close(ctx)
		}
		select {
		case <-c.exited:
			return fmt.Errorf("postgres exited during start-up (%v); its log says:\n%s", c.exitErr, c.logTail())
		case <-ctx.Done():
			return fmt.Errorf("postgres did not accept connections within %s: %w; its log says:\n%s", startTimeout, err, c.logTail())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// logTail returns the last lines of the server log, for error messages.
func (c *Cluster) logTail() string {
	data, _ := os.ReadFile(c.logPath())
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) > 15 {
		lines = lines[len(lines)-15:]
	}
	return strings.Join(lines, "\n")
}

// Port is the TCP port the server listens on (127.0.0.1).
func (c *Cluster) Port() int { return c.port }

// Host is the address the server listens on.
func (c *Cluster) Host() string { return "127.0.0.1" }

// SocketDir is the directory holding the server's unix socket.
func (c *Cluster) SocketDir() string { return c.sockDir }

// BinDir is the directory of the server binaries in use.
func (c *Cluster) BinDir() string { return c.binDir }

// Dir is the cluster's private directory (data, socket, log).
func (c *Cluster) Dir() string { return c.dir }

// DSN is a superuser connection string for dbname over TCP.
func (c *Cluster) DSN(dbname string) string {
	return c.DSNFor(Superuser, "", dbname)
}

// DSNFor is a connection string for user/password and dbname over TCP.
func (c *Cluster) DSNFor(user, password, dbname string) string {
	dsn := fmt.Sprintf("host=127.0.0.1 port=%d user=%s dbname=%s sslmode=disable", c.port, quoteDSN(user), quoteDSN(dbname))
	if password != "" {
		dsn += " password=" + quoteDSN(password)
	}
	return dsn
}

func quoteDSN(v string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
}

// CreateDatabase creates an empty database owned by the superuser.
func (c *Cluster) CreateDatabase(ctx context.Context, name string) error {
	return c.exec(ctx, "CREATE DATABASE "+quoteIdent(name))
}

// CreateDatabaseFrom creates a database as a copy of template, which
// no session may be connected to: a file copy of a loaded database is
// much cheaper than loading it again.
func (c *Cluster) CreateDatabaseFrom(ctx context.Context, name, template string) error {
	return c.exec(ctx, "CREATE DATABASE "+quoteIdent(name)+" TEMPLATE "+quoteIdent(template))
}

// DropDatabase drops a database, disconnecting its sessions first.
func (c *Cluster) DropDatabase(ctx context.Context, name string) error {
	return c.exec(ctx, "DROP DATABASE IF EXISTS "+quoteIdent(name)+" WITH (FORCE)")
}

func (c *Cluster) exec(ctx context.Context, sql string) error {
	conn, err := pgconn.Connect(ctx, c.DSN("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql).ReadAll()
	return err
}

// quoteIdent quotes a database name chosen by pgmoat's own code or tests.
func quoteIdent(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

// Close stops the server (immediate shutdown, then SIGKILL after a grace period)
// and removes the cluster directory. It is safe to call more than once.
func (c *Cluster) Close() error {
	c.closeMu.Lock()
	defer c.closeMu.Unlock()
	if c.closed {
		return c.closeErr
	}
	c.closed = true
	c.closeErr = errors.Join(c.stop(), c.removeDir())
	return c.closeErr
}

func (c *Cluster) stop() error {
	if c.cmd == nil {
		return nil
	}
	// A frozen server (Freeze) cannot act on a signal until it runs again.
	_ = c.signalAll(syscall.SIGCONT)
	// Immediate shutdown: the data is thrown away, so there is no point in
	// the shutdown checkpoint a fast shutdown would write.
	_ = c.cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-c.exited:
		return nil
	case <-time.After(10 * time.Second):
	}
	_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
	<-c.exited
	return nil
}

func (c *Cluster) removeDir() error {
	if err := os.RemoveAll(c.dir); err != nil {
		return fmt.Errorf("remove cluster directory: %w", err)
	}
	return nil
}
