package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
	"golang.org/x/net/netutil"

	"github.com/pgmoat/pgmoat/cmd/pgmoat/config"
	"github.com/pgmoat/pgmoat/introspect"
	"github.com/pgmoat/pgmoat/mcp"
	"github.com/pgmoat/pgmoat/policy"
	"github.com/pgmoat/pgmoat/proxy"
)

// mcpExecutor adapts the proxy's in-process executor to what the MCP side
// defines, classifying failures so that mcp never needs to know pgx or
// the pool.
type mcpExecutor struct {
	x    *proxy.Executor
	slow *slowLog // nil: no slow-statement capture
}

func (e mcpExecutor) Query(ctx context.Context, id policy.Identity, maxBytes int, sql string, args ...any) (*mcp.Rows, error) {
	start := time.Now()
	res, err := e.x.QueryBudget(ctx, id, maxBytes, sql, args...)
	e.slow.observe(id, sql, time.Since(start))
	if err != nil {
		return nil, mcpError(err)
	}
	rows := &mcp.Rows{Columns: make([]string, len(res.Fields)), Values: res.Rows, Truncated: res.Truncated}
	for i, f := range res.Fields {
		rows.Columns[i] = f.Name
	}
	for _, c := range res.Cut {
		rows.Cut = append(rows.Cut, mcp.CutValue{Row: c.Row, Column: c.Column, Size: c.Size})
	}
	return rows, nil
}

func mcpError(err error) error {
	var pe *policy.Error
	var pg *pgconn.PgError
	switch {
	case errors.As(err, &pe):
		return pe
	case errors.As(err, &pg):
		return &mcp.DBError{SQLState: pg.Code, Message: pg.Message}
	case errors.Is(err, proxy.ErrPoolExhausted):
		return &mcp.DBError{SQLState: "53300", Message: err.Error()}
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	}
	return &mcp.DBError{Unavailable: true, Message: err.Error()}
}

// mcpStack is the MCP server and what keeps its tools current.
type mcpStack struct {
	server   *mcp.Server
	reloader *introspect.Reloader
	logger   *slog.Logger
}

// newMCPStack reads the catalog, generates the tools and builds the server
// for identity (nil over HTTP, where tokens name the caller).
func newMCPStack(ctx context.Context, cfg *config.Config, engine *policy.Engine, pool *proxy.Pool, logger *slog.Logger, identity *policy.Identity, obs *observers) (*mcpStack, error) {
	st := &mcpStack{logger: logger}
	profiles := profileSyncFor(obs, cfg, engine)
	var mu sync.Mutex // OnChange runs on the reloader's goroutine; server is set before Run starts it
	reloader, err := introspect.NewReloader(ctx, cfg.Backend.DSN.Value(), introspect.ReloaderOptions{
		Logger: logger,
		OnChange: func(_, cur *introspect.Snapshot, _ introspect.Diff) {
			if err := profiles.setSnapshot(cur); err != nil {
				logger.Error("readable schemas not updated after a schema change", "err", err)
			}
			mu.Lock()
			defer mu.Unlock()
			if err := st.server.SchemaChanged(cur); err != nil {
				logger.Error("MCP tools not updated after a schema change", "err", err)
			}
		},
	})
	if err != nil {
		return nil, fmt.Errorf("reading the schema for MCP tools: %s", config.RedactDSN(err.Error()))
	}
	if err := profiles.setSnapshot(reloader.Current()); err != nil {
		return nil, err
	}
	live, err := mcp.NewLiveTools(reloader.Current(), toolOptions(cfg), logger, time.Now())
	if err != nil {
		return nil, err
	}
	opts, err := mcpServerOptions(cfg)
	if err != nil {
		return nil, err
	}
	opts.Tools, opts.Engine, opts.Identity, opts.Logger = live, engine, identity, logger
	x := proxy.NewExecutor(pool, engine, cfg.RLS.Setting)
	opts.Executor = mcpExecutor{x: x, slow: obs.newSlowLog(x, engine, logger)}
	opts.OnStale = reloader.Trigger
	if obs != nil {
		opts.OnCall = obs.onCall
		opts.Tracer = obs.tracer("mcp")
	}
	mu.Lock()
	st.server, err = mcp.NewServer(opts)
	mu.Unlock()
	if err != nil {
		return nil, err
	}
	st.reloader = reloader
	return st, nil
}

// mcpServerOptions turns the mcp section into server options.
func mcpServerOptions(cfg *config.Config) (mcp.ServerOptions, error) {
	m := cfg.MCP
	o := mcp.ServerOptions{
		Version:         version,
		MaxResultBytes:  m.MaxResultBytes,
		ResultCacheTTL:  m.ResultCache.TTL.D(),
		ResultCacheSize: m.ResultCache.Size,
	}
	switch m.DataWrapper {
	case "", "tags":
	case mcp.DataWrapperNone:
		o.DataWrapper = mcp.DataWrapperNone
	default:
		return o, fmt.Errorf("mcp.data_wrapper: %q is not tags or none", m.DataWrapper)
	}
	if m.MaxResultBytes < 0 || m.MaxRequestBytes < 0 || m.ResultCache.Size < 0 {
		return o, errors.New("mcp: max_result_bytes, max_request_bytes and result_cache.size cannot be negative")
	}
	if len(m.ResultCache.Tools) > 0 {
		o.ResultCacheTTLs = map[string]time.Duration{}
		for name, d := range m.ResultCache.Tools {
			o.ResultCacheTTLs[name] = d.D()
		}
	}
	if s := m.CursorSecret.Value(); s != "" {
		if len(s) < 32 {
			return o, errors.New("mcp.cursor_secret: use at least 32 characters")
		}
		o.CursorKey = []byte(s)
	}
	for _, p := range m.Prompts {
		ps := mcp.PromptSpec{Name: p.Name, Description: p.Description, Text: p.Text}
		for _, a := range p.Arguments {
			ps.Arguments = append(ps.Arguments, mcp.PromptArg{Name: a.Name, Description: a.Description, Required: a.Required})
		}
		o.Prompts = append(o.Prompts, ps)
	}
	return o, nil
}

// mcpAuthOptions turns tokens, JWT and the anonymous identity into the
// HTTP authenticator's options.
func mcpAuthOptions(cfg *config.Config) (mcp.AuthOptions, error) {
	m := cfg.MCP
	o := mcp.AuthOptions{Tokens: map[string]policy.Identity{}}
	for tok, c := range m.Tokens {
		o.Tokens[tok.Value()] = policy.Identity{UserID: c.UserID, Profile: c.Profile}
	}
	if a := m.Anonymous; a != nil {
		o.Anonymous = &policy.Identity{UserID: a.UserID, Profile: a.Profile}
	}
	if j := m.JWT; j != nil {
		jo := &mcp.JWTOptions{Secret: []byte(j.Secret.Value()), Issuer: j.Issuer, Audience: j.Audience,
			UserClaim: j.UserClaim, ProfileClaim: j.ProfileClaim, Profile: j.Profile, Leeway: j.Leeway.D()}
		if jo.Profile == "" {
			jo.Profile = config.DefaultProfile
		}
		if j.PublicKeyFile != "" {
			pem, err := os.ReadFile(j.PublicKeyFile)
			if err != nil {
				return o, fmt.Errorf("mcp.jwt.public_key_file: %w", err)
			}
			jo.PublicKeyPEM = pem
		}
		o.JWT = jo
	}
	return o, nil
}

// startMCPHTTP serves MCP over streamable HTTP at cfg.MCP.Listen + /mcp
// and keeps the tools in step with the schema. stop shuts the listener
// down, waiting for calls in flight until ctx ends.
func startMCPHTTP(ctx context.Context, cfg *config.Config, engine *policy.Engine, pool *proxy.Pool, log io.Writer, obs ...*observers) (stop func(context.Context) error, err error) {
	ln, err := net.Listen("tcp", cfg.MCP.Listen)
	if err != nil {
		return nil, fmt.Errorf("mcp.listen %s: %w", cfg.MCP.Listen, err)
	}
	stop, err = serveMCPHTTP(ctx, cfg, engine, pool, log, ln, obs...)
	if err != nil {
		ln.Close()
	}
	return stop, err
}

// serveMCPHTTP is startMCPHTTP on a listener the caller opened.
func serveMCPHTTP(ctx context.Context, cfg *config.Config, engine *policy.Engine, pool *proxy.Pool, log io.Writer, ln net.Listener, observed ...*observers) (stop func(context.Context) error, err error) {
	var obs *observers
	if len(observed) > 0 {
		obs = observed[0]
	}
	logger := newLogger(log)
	if obs != nil && obs.logger != nil {
		logger = obs.logger // one logger for both doors
	}
	authOpts, err := mcpAuthOptions(cfg)
	if err != nil {
		return nil, err
	}
	authn, err := mcp.NewAuthenticator(authOpts)
	if err != nil {
		return nil, err
	}
	st, err := newMCPStack(ctx, cfg, engine, pool, logger, nil, obs)
	if err != nil {
		return nil, err
	}
	if obs != nil {
		obs.watchMCP(st.server.Stats)
		obs.setReload(func(ctx context.Context) (string, error) {
			d, err := st.reloader.Reload(ctx)
			if err != nil {
				return "", err
			}
			if d.Empty() {
				return "schema unchanged", nil
			}
			return strings.Join(d.Lines(), "; "), nil
		})
	}
	if authOpts.Anonymous != nil && !loopback(ln.Addr()) {
		fmt.Fprintf(log, "pgmoat: WARNING: mcp.anonymous is set and MCP listens on %s, which is not a loopback address: "+
			"anyone who can reach it queries the database as user id %q without a token\n", ln.Addr(), authOpts.Anonymous.UserID)
		logger.Warn("anonymous MCP access on a non-loopback address", "listen", ln.Addr().String(), "user_id", authOpts.Anonymous.UserID)
	}
	hs := mcpHTTPServer(cfg.MCP, withMetrics(st.server.HTTPHandler(authn, mcpHTTPOptions(cfg.MCP, logger)), obs), logger)
	ln = netutil.LimitListener(ln, cfg.MCP.HTTP.MaxConnections)
	rctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	served := make(chan error, 1)
	go func() {
		defer wg.Done()
		if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			served <- err
		}
	}()
	go func() {
		defer wg.Done()
		_ = st.reloader.Run(rctx)
	}()
	return func(ctx context.Context) error {
		err := hs.Shutdown(ctx)
		if err != nil {
			// Streams still open at the deadline (an idle GET stream
			// never ends by itself) are cut.
			err = hs.Close()
		}
		cancel()
		wg.Wait()
		obs.closeSlow()
		select {
		case serr := <-served:
			err = errors.Join(err, serr)
		default:
		}
		return err
	}, nil
}

// mcpHTTPOptions are the transport's limits from the mcp section.
func mcpHTTPOptions(m config.MCP, logger *slog.Logger) mcp.HTTPOptions {
	return mcp.HTTPOptions{
		MaxRequestBytes: int64(m.MaxRequestBytes), SessionTimeout: m.SessionIdleTimeout.D(),
		MaxSessionsPerCaller: m.MaxSessionsPerToken, BodyTimeout: m.HTTP.BodyTimeout.D(), Stateless: m.Stateless, Logger: logger,
	}
}

// mcpHTTPServer serves h with mcp.http's bounds on each connection: the
// headers must arrive within read_header_timeout, an idle keep-alive
// connection closes after idle_timeout, and the body deadline is the
// handler's, per request (see mcp.HTTPOptions.BodyTimeout). No ReadTimeout
// or WriteTimeout: they would cut GET event streams, which stay open.
// The listener caps the connections (max_connections); http.Server backs
// off on temporary Accept errors such as EMFILE by itself.
func mcpHTTPServer(m config.MCP, h http.Handler, logger *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: m.HTTP.ReadHeaderTimeout.D(),
		IdleTimeout:       m.HTTP.IdleTimeout.D(),
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
}

func loopback(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	return ok && ta.IP.IsLoopback()
}

// runMCP is `pgmoat mcp`: one MCP session over stdin/stdout for a local
// client (Claude Desktop, Claude Code), running as the identity given by
// --user-id or mcp.anonymous. Logs go to stderr: stdout carries only the
// protocol.
func runMCP(e env, args []string) int {
	fs := flag.NewFlagSet("mcp", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	path := fs.String("config", "", "config file (default $"+config.EnvConfig+")")
	userID := fs.String("user-id", "", "user id the session runs as (default: mcp.anonymous.user_id)")
	profile := fs.String("profile", "", "profile the session runs under (default: mcp.anonymous.profile, else readonly)")
	allowUnsafe := allowUnsafeFlag(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(e.stderr, "pgmoat mcp: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	p := config.ResolvePath(*path)
	if p == "" {
		fmt.Fprintln(e.stderr, "pgmoat mcp: no config: pass --config FILE or set "+config.EnvConfig)
		return exitUsage
	}
	cfg, err := config.Load(p)
	if err != nil {
		fmt.Fprintf(e.stderr, "pgmoat mcp: %s\n", config.RedactDSN(err.Error()))
		return exitUsage
	}
	cfg.Backend.AllowUnsafeRole = cfg.Backend.AllowUnsafeRole || *allowUnsafe
	id, err := stdioIdentity(cfg, *userID, *profile)
	if err != nil {
		fmt.Fprintf(e.stderr, "pgmoat mcp: %s\n", config.RedactDSN(err.Error()))
		return exitUsage
	}
	if err := serveStdio(e, cfg, id); err != nil {
		fmt.Fprintf(e.stderr, "pgmoat mcp: %s\n", config.RedactDSN(err.Error()))
		return exitUsage
	}
	return exitOK
}

func stdioIdentity(cfg *config.Config, userID, profile string) (policy.Identity, error) {
	id := policy.Identity{UserID: userID, Profile: profile}
	if a := cfg.MCP.Anonymous; a != nil {
		if id.UserID == "" {
			id.UserID = a.UserID
		}
		if id.Profile == "" {
			id.Profile = a.Profile
		}
	}
	if id.UserID == "" {
		return id, errors.New("no identity: pass --user-id ID or set mcp.anonymous.user_id in the config")
	}
	if id.Profile == "" {
		id.Profile = config.DefaultProfile
	}
	if _, ok := cfg.Profiles[id.Profile]; !ok {
		return id, fmt.Errorf("--profile %q is not defined under profiles", id.Profile)
	}
	return id, nil
}

func serveStdio(e env, cfg *config.Config, id policy.Identity) error {
	// stdout carries the protocol; the logs (one record per tool call)
	// go to stderr, which MCP clients keep as the server's log.
	logger := newLogger(e.stderr)
	engine, err := policy.New(cfg.PolicyOptions())
	if err != nil {
		return fmt.Errorf("policy: %w", err)
	}
	pool, err := newBackendPool(e.ctx, cfg, e.stderr)
	if err != nil {
		return err
	}
	defer pool.Close()
	obs := newObservers(logger)
	defer obs.closeSlow() // before the pool closes
	obs.allowValues(cfg.MCP.LogValues)
	st, err := newMCPStack(e.ctx, cfg, engine, pool, logger, &id, obs)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(e.ctx)
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = st.reloader.Run(ctx)
	}()
	defer func() { cancel(); <-done }()
	err = st.server.Run(ctx, &sdk.IOTransport{Reader: io.NopCloser(e.stdin), Writer: nopWriteCloser{e.stdout}})
	if err == nil || errors.Is(err, io.EOF) || ctx.Err() != nil {
		return nil
	}
	return err
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }

// newBackendPool opens the backend pool and checks it can connect. The
// pool's first connection checks the backend role and refuses an unsafe
// one unless backend.allow_unsafe_role (or --allow-unsafe-backend-role)
// says otherwise; then the warning goes to warn.
func newBackendPool(ctx context.Context, cfg *config.Config, warn io.Writer) (*proxy.Pool, error) {
	pc := cfg.Backend.Pool
	pool, err := proxy.NewPool(proxy.PoolConfig{
		DSN: cfg.Backend.DSN.Value(), Min: pc.Min, Max: pc.Max,
		AcquireTimeout: pc.AcquireTimeout.D(), MaxLifetime: pc.MaxLifetime.D(), IdleTimeout: pc.IdleTimeout.D(),
		MaxPerIdentity:  pc.EffectiveMaxPerIdentity(),
		BehindPooler:    cfg.Backend.BehindPooler,
		AllowUnsafeRole: cfg.Backend.AllowUnsafeRole,
		OnUnsafeRole: func(e *proxy.UnsafeRoleError) {
			fmt.Fprintf(warn, "pgmoat: WARNING: using an unsafe backend role as allowed (backend.allow_unsafe_role): %s\n", e.Error())
		},
		Logger: newLogger(warn),
	})
	if err != nil {
		return nil, fmt.Errorf("backend.dsn: %s", config.RedactDSN(err.Error()))
	}
	wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := pool.Warm(wctx); err != nil {
		pool.Close()
		var unsafe *proxy.UnsafeRoleError
		if errors.As(err, &unsafe) {
			return nil, unsafe
		}
		return nil, fmt.Errorf("cannot connect to the backend (%s): %s; check backend.dsn, the password and that PostgreSQL is running",
			config.RedactDSN(cfg.Backend.DSN.Value()), config.RedactDSN(innermost(err).Error()))
	}
	return pool, nil
}

// allowUnsafeFlag defines --allow-unsafe-backend-role, which every
// command that opens backends takes: it overrides backend.allow_unsafe_role
// for this run.
func allowUnsafeFlag(fs *flag.FlagSet) *bool {
	return fs.Bool("allow-unsafe-backend-role", false,
		"use a backend role that could write, bypass row-level security or read server files (overrides backend.allow_unsafe_role)")
}

// withMetrics serves /metrics beside the MCP endpoint.
func withMetrics(h http.Handler, obs *observers) http.Handler {
	if obs == nil {
		return h
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", obs.metricsHandler())
	mux.Handle("/", h)
	return mux
}

// innermost is the root cause of a wrapped error, for one clear line.
func innermost(err error) error {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err
		}
		err = next
	}
}
