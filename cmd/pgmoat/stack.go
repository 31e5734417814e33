package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"

	"github.com/pgmoat/pgmoat/cmd/pgmoat/config"
	"github.com/pgmoat/pgmoat/cmd/pgmoat/live"
	"github.com/pgmoat/pgmoat/cmd/pgmoat/mcpdoor"
	"github.com/pgmoat/pgmoat/cmd/pgmoat/telemetry"
	"github.com/pgmoat/pgmoat/policy"
	"github.com/pgmoat/pgmoat/proxy"
	"github.com/pgmoat/pgmoat/proxy/slowlog"
)

// slowInterval is the least time between two slow-statement EXPLAINs.
const slowInterval = time.Second

// stack is everything serve runs, for orderly shutdown.
type stack struct {
	obs    *telemetry.Observers
	proxy  *proxy.Server
	mcp    *mcpdoor.HTTP
	live   *live.Config // the config in force; RELOAD and SIGHUP replace it
	served chan error
	// release closes what the doors ran on (the slow log, the pool, the
	// tracer), last opened first, once the doors stopped.
	release cleanup
}

// cleanup is a stack of closers: everything opened is pushed as it is
// opened, and run pops them all, so no error path can forget one.
type cleanup []func()

func (c *cleanup) push(f func()) { *c = append(*c, f) }

func (c cleanup) run() {
	for i := len(c) - 1; i >= 0; i-- {
		c[i]()
	}
}

// startStack validates the whole config first (policy, MCP options and
// authentication, TLS), then opens the pool (checking the backend is
// reachable and its role safe), reads the schema for the MCP tools,
// builds both doors, and only then listens. On any error everything
// opened so far is closed again and nothing listens.
func startStack(ctx context.Context, log io.Writer, cfg *config.Config) (_ *stack, err error) {
	engine, err := policy.New(cfg.PolicyOptions())
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	mcpOpts, err := mcpdoor.ServerOptions(cfg, version)
	if err != nil {
		return nil, err
	}
	tlsConfig, err := loadTLS(cfg.Proxy.TLS)
	if err != nil {
		return nil, err
	}
	var opened cleanup
	defer func() {
		if err != nil {
			opened.run()
		}
	}()
	logger := telemetry.NewLogger(log)
	authn, err := mcpdoor.NewAuthenticator(cfg, logger)
	if err != nil {
		return nil, err
	}
	opened.push(authn.Close) // it refreshes a provider's keys until closed
	obs := telemetry.New(logger)
	obs.WatchEngine(engine)
	obs.AllowValues(cfg.MCP.LogValues)
	if err := obs.StartTracing(ctx); err != nil {
		return nil, err
	}
	opened.push(func() { _ = obs.Shutdown(context.Background()) }) // flush the last spans
	pool, err := newBackendPool(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	opened.push(pool.Close)
	slow := slowlog.New(slowlog.Options{Explainer: proxy.NewExecutor(pool, engine, cfg.RLS.Setting),
		Threshold: slowlog.EngineThresholds(engine), Interval: slowInterval, Logger: logger})
	opened.push(slow.Close) // before the pool closes
	profiles := live.NewProfiles(engine, cfg)
	door, err := mcpdoor.New(ctx, cfg, mcpOpts, mcpdoor.Parts{Engine: engine, Pool: pool, Logger: logger,
		Observers: obs, Profiles: profiles, Slow: slow})
	if err != nil {
		return nil, err
	}
	lv := live.New(cfg, live.Options{Profiles: profiles, ProfilesChanged: door.Server.PolicyChanged,
		LogValues: obs.AllowValues, Schema: door.ReloadSchema, AuthRows: authn.StatusRows})
	srv, err := newProxyServer(cfg, engine, pool, obs, lv, slow, tlsConfig)
	if err != nil {
		return nil, err
	}
	lv.Attach(srv)
	ls, err := listen(cfg, &opened)
	if err != nil {
		return nil, err
	}
	st := &stack{obs: obs, proxy: srv, live: lv, served: make(chan error, 1), release: opened}
	go func() { st.served <- srv.Serve(ls.proxy) }()
	if ls.unix != nil {
		go serveUnix(srv, ls.unix, logger)
	}
	st.mcp = door.ServeHTTP(cfg, ls.mcp, authn, obs, logger, log)
	return st, nil
}

// newProxyServer builds the proxy door; it does not listen.
func newProxyServer(cfg *config.Config, engine *policy.Engine, pool *proxy.Pool, obs *telemetry.Observers,
	lv *live.Config, slow *slowlog.Log, tlsConfig *tls.Config) (*proxy.Server, error) {
	logins := live.ProxyLogins(cfg)
	return proxy.NewServer(proxy.Config{
		OnSlow:  slow.ObserveProxied,
		TLS:     tlsConfig,
		Metrics: obs.Registry,
		Tracer:  obs.Tracer("proxy"),
		Admin: proxy.AdminConfig{
			Users: logins.Admins, Profiles: logins.Profiles, Version: version + revision(),
			Config: lv.Rows, Tools: obs.ToolStats, Reload: lv.Reload, Slow: slow.Snapshot,
		},
		Engine: engine, Pool: pool, Users: logins.Users, Auth: cfg.Proxy.Auth, RLSSetting: cfg.RLS.Setting,
		MaxClientConn: cfg.Proxy.MaxClientConn, MaxStartups: cfg.Proxy.MaxStartups, StartupTimeout: cfg.Proxy.StartupTimeout.D(),
		MaxMessageSize: cfg.Proxy.MaxMessageSize, IdleTransactionTimeout: cfg.Proxy.IdleTransactionTimeout.D(),
		Logger: obs.Logger, AuthSecret: cfg.Proxy.AuthSecret.Value(), RequireTLS: cfg.Proxy.TLS.Require,
	})
}

// listeners are the sockets the doors serve on.
type listeners struct {
	proxy, unix, mcp net.Listener // unix is nil without proxy.unix_socket
}

// listen opens every listener, pushing each on opened.
func listen(cfg *config.Config, opened *cleanup) (listeners, error) {
	var ls listeners
	l, err := net.Listen("tcp", cfg.Proxy.Listen)
	if err != nil {
		return ls, fmt.Errorf("proxy.listen %s: %w (is another pgmoat or PgBouncer running there?)", cfg.Proxy.Listen, err)
	}
	opened.push(func() { _ = l.Close() })
	ls.proxy = l
	if cfg.Proxy.UnixSocket != "" {
		ul, err := listenUnix(cfg.Proxy.UnixSocket, cfg.Proxy.Listen)
		if err != nil {
			return ls, err
		}
		opened.push(func() { _ = ul.Close() })
		ls.unix = ul
	}
	ml, err := net.Listen("tcp", cfg.MCP.Listen)
	if err != nil {
		return ls, fmt.Errorf("mcp.listen %s: %w", cfg.MCP.Listen, err)
	}
	opened.push(func() { _ = ml.Close() })
	ls.mcp = ml
	return ls, nil
}

// serveUnix serves the proxy on the unix socket. Shutdown closes it with
// the TCP listener (and removes the socket file); anything else is worth
// a line in the log.
func serveUnix(srv *proxy.Server, ul net.Listener, logger *slog.Logger) {
	if err := srv.Serve(ul); err != nil {
		_ = ul.Close()
		if !errors.Is(err, net.ErrClosed) {
			logger.Error("unix-socket listener stopped", "path", ul.Addr().String(), "err", err)
		}
	}
}

// stop shuts down gracefully: no new clients, running transactions get
// up to grace to finish, then backends close. MCP stops first: the pool
// must outlive it.
func (st *stack) stop(grace time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	mcpErr := st.mcp.Stop(ctx)
	err := st.proxy.Shutdown(ctx)
	serveErr := <-st.served
	st.release.run()
	if errors.Is(err, context.DeadlineExceeded) {
		err = nil // stragglers were disconnected; that is what the deadline is for
	}
	return errors.Join(mcpErr, err, serveErr)
}
