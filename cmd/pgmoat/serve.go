package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/pgmoat/pgmoat/cmd/pgmoat/config"
	"github.com/pgmoat/pgmoat/policy"
	"github.com/pgmoat/pgmoat/proxy"
)

func runServe(e env, args []string) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	path := fs.String("config", "", "config file (default $PGMOAT_CONFIG)")
	allowUnsafe := allowUnsafeFlag(fs)
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	p := config.ResolvePath(*path)
	if p == "" {
		fmt.Fprintln(e.stderr, "pgmoat serve: no config: pass --config FILE or set PGMOAT_CONFIG (try `pgmoat demo` for a ready-made set-up)")
		return exitUsage
	}
	cfg, err := config.Load(p)
	if err != nil {
		fmt.Fprintf(e.stderr, "pgmoat serve: %s\n", config.RedactDSN(err.Error()))
		return exitUsage
	}
	if cfg.Backend.DSN == "" {
		fmt.Fprintf(e.stderr, "pgmoat serve: %s: backend.dsn is not set (or set %s)\n", p, config.EnvBackendDSN)
		return exitUsage
	}
	cfg.Backend.AllowUnsafeRole = cfg.Backend.AllowUnsafeRole || *allowUnsafe
	if err := serve(e.ctx, e.stdout, cfg); err != nil {
		fmt.Fprintf(e.stderr, "pgmoat serve: %s\n", config.RedactDSN(err.Error()))
		return exitUsage
	}
	return exitOK
}

// stack is everything serve runs, for orderly shutdown.
type stack struct {
	obs    *observers
	engine *policy.Engine
	pool   *proxy.Pool
	proxy  *proxy.Server
	live   *liveConfig // the config in force; RELOAD and SIGHUP replace it
	served chan error
	// stopMCP stops the MCP HTTP server once it runs.
	stopMCP func(context.Context) error
}

// startStack builds the engine, the pool (checking the backend is
// reachable) and the proxy listener.
func startStack(ctx context.Context, log io.Writer, cfg *config.Config) (*stack, error) {
	engine, err := policy.New(cfg.PolicyOptions())
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	pool, err := newBackendPool(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	logins := proxyLogins(cfg)
	logger := newLogger(log)
	obs := newObservers(logger)
	obs.watchEngine(engine)
	obs.allowValues(cfg.MCP.LogValues)
	live := newLiveConfig(cfg, engine, obs)
	traces, err := newTracerProvider(ctx)
	if err != nil {
		pool.Close()
		return nil, err
	}
	if traces != nil {
		obs.traces = traces
		obs.shutdownTraces = traces.Shutdown
	}
	tlsConfig, err := loadTLS(cfg.Proxy.TLS)
	if err != nil {
		pool.Close()
		return nil, err
	}
	slow := obs.newSlowLog(proxy.NewExecutor(pool, engine, cfg.RLS.Setting), engine, logger)
	srv, err := proxy.NewServer(proxy.Config{
		OnSlow:  slow.observeProxied,
		TLS:     tlsConfig,
		Metrics: obs.registry,
		Tracer:  obs.tracer("proxy"),
		Admin: proxy.AdminConfig{
			Users: logins.Admins, Profiles: logins.Profiles, Version: version + revision(),
			Config: live.rows, Tools: obs.tools.snapshot, Reload: live.reload, Slow: obs.slowSnapshot,
		},
		Engine: engine, Pool: pool, Users: logins.Users, Auth: cfg.Proxy.Auth, RLSSetting: cfg.RLS.Setting,
		MaxClientConn: cfg.Proxy.MaxClientConn, StartupTimeout: cfg.Proxy.StartupTimeout.D(),
		MaxMessageSize: cfg.Proxy.MaxMessageSize, IdleTransactionTimeout: cfg.Proxy.IdleTransactionTimeout.D(),
		Logger: logger,
	})
	if err != nil {
		pool.Close()
		return nil, err
	}
	live.proxy = srv
	l, err := net.Listen("tcp", cfg.Proxy.Listen)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("proxy.listen %s: %w (is another pgmoat or PgBouncer running there?)", cfg.Proxy.Listen, err)
	}
	if cfg.Proxy.UnixSocket != "" {
		ul, err := listenUnix(cfg.Proxy.UnixSocket, cfg.Proxy.Listen)
		if err != nil {
			_ = l.Close()
			pool.Close()
			return nil, err
		}
		go func() {
			// Shutdown closes it with the TCP listener (and removes the
			// socket file); anything else is worth a line in the log.
			if err := srv.Serve(ul); err != nil {
				_ = ul.Close()
				if !errors.Is(err, net.ErrClosed) {
					logger.Error("unix-socket listener stopped", "path", ul.Addr().String(), "err", err)
				}
			}
		}()
	}
	st := &stack{obs: obs, engine: engine, pool: pool, proxy: srv, live: live, served: make(chan error, 1)}
	go func() { st.served <- srv.Serve(l) }()
	return st, nil
}

// listenUnix listens on dir/.s.PGSQL.<port>, the socket psql and libpq
// look for with -h dir -p port. A socket file left by a process that
// died (connecting is refused) is replaced; anything else there — a live
// server, even a busy one, a socket of another user, a file that is not
// a socket — is left alone and reported.
func listenUnix(dir, tcpListen string) (net.Listener, error) {
	_, port, err := net.SplitHostPort(tcpListen)
	if err != nil {
		return nil, fmt.Errorf("proxy.unix_socket: the port comes from proxy.listen %q: %w", tcpListen, err)
	}
	path := filepath.Join(dir, ".s.PGSQL."+port)
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("proxy.unix_socket: %s exists and is not a socket; remove it or choose another directory", path)
		}
		c, err := net.DialTimeout("unix", path, time.Second)
		switch {
		case err == nil:
			_ = c.Close()
			return nil, fmt.Errorf("proxy.unix_socket: %s is in use (is another pgmoat or PostgreSQL listening there?)", path)
		case !errors.Is(err, syscall.ECONNREFUSED):
			return nil, fmt.Errorf("proxy.unix_socket: %s is there and may be in use: %w", path, err)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("proxy.unix_socket: removing the stale socket %s: %w", path, err)
		}
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("proxy.unix_socket: %w (does the directory %s exist and is it writable?)", err, dir)
	}
	// Like PostgreSQL's default unix_socket_permissions: who may connect
	// is decided by authentication, not by the file mode.
	if err := os.Chmod(path, 0o777); err != nil {
		_ = l.Close()
		return nil, fmt.Errorf("proxy.unix_socket: %w", err)
	}
	return l, nil
}

// startMCP serves MCP over streamable HTTP on the same pool and engine.
func (st *stack) startMCP(ctx context.Context, cfg *config.Config, log io.Writer) error {
	stop, err := startMCPHTTP(ctx, cfg, st.engine, st.pool, log, st.obs)
	if err != nil {
		return err
	}
	st.stopMCP = stop
	return nil
}

// stop shuts down gracefully: no new clients, running transactions get
// up to grace to finish, then backends close. MCP stops first: the pool
// must outlive it.
func (st *stack) stop(grace time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	var mcpErr error
	if st.stopMCP != nil {
		mcpErr = st.stopMCP(ctx)
	}
	err := st.proxy.Shutdown(ctx)
	serveErr := <-st.served
	st.obs.closeSlow()
	st.pool.Close()
	if st.obs.shutdownTraces != nil {
		_ = st.obs.shutdownTraces(context.Background()) // flush the last spans
	}
	if errors.Is(err, context.DeadlineExceeded) {
		err = nil // stragglers were disconnected; that is what the deadline is for
	}
	return errors.Join(mcpErr, err, serveErr)
}

func serve(ctx context.Context, out io.Writer, cfg *config.Config) error {
	st, err := startStack(ctx, out, cfg)
	if err != nil {
		return err
	}
	// SIGHUP is caught from here on: it must never find the default
	// action (exit) once a line below has said pgmoat is up.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	fmt.Fprintf(out, "pgmoat: proxy listening on %s (database %q)\n", cfg.Proxy.Listen, st.databaseName(cfg))
	if cfg.Proxy.UnixSocket != "" {
		_, port, _ := net.SplitHostPort(cfg.Proxy.Listen)
		fmt.Fprintf(out, "pgmoat: proxy listening on unix socket %s (psql -h %s -p %s)\n",
			filepath.Join(cfg.Proxy.UnixSocket, ".s.PGSQL."+port), cfg.Proxy.UnixSocket, port)
	}
	if err := st.startMCP(ctx, cfg, out); err != nil {
		return errors.Join(err, st.stop(time.Second))
	}
	fmt.Fprintf(out, "pgmoat: MCP listening on http://%s/mcp (metrics at /metrics)\n", cfg.MCP.Listen)
	for running := true; running; {
		select {
		case <-ctx.Done():
			running = false
		case err := <-st.served:
			st.served <- err
			running = false
		case <-hup:
			// SIGHUP re-reads the config file and the schema, like the
			// admin console's RELOAD. Its outcome is a log record, in the
			// format PGMOAT_LOG_FORMAT chose, for the collector that
			// reads serve's output.
			summary, err := st.live.reload(ctx)
			if err != nil {
				st.obs.logger.Error("reload on SIGHUP failed", "err", err)
			} else {
				st.obs.logger.Info("reloaded on SIGHUP", "changes", summary)
			}
		}
	}
	fmt.Fprintln(out, "pgmoat: shutting down …")
	return st.stop(cfg.Proxy.ShutdownGrace.D())
}

func (st *stack) databaseName(cfg *config.Config) string {
	return dbNameOf(cfg.Backend.DSN.Value())
}

// loadTLS reads the proxy's certificate and key, when configured.
func loadTLS(t config.TLS) (*tls.Config, error) {
	if t.Cert == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(t.Cert, t.Key)
	if err != nil {
		return nil, fmt.Errorf("proxy.tls: %w (cert %s, key %s)", err, t.Cert, t.Key)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// EnvLogLevel sets the log level: debug adds one record per proxied
// statement (SQL with literals replaced by $n); the default is info.
const EnvLogLevel = "PGMOAT_LOG_LEVEL"

func logLevel() slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(os.Getenv(EnvLogLevel))); err != nil {
		return slog.LevelInfo
	}
	return l
}
