package mcpdoor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"

	"golang.org/x/net/netutil"

	"github.com/pgmoat/pgmoat/cmd/pgmoat/config"
	"github.com/pgmoat/pgmoat/cmd/pgmoat/telemetry"
	"github.com/pgmoat/pgmoat/mcp"
	"github.com/pgmoat/pgmoat/proxy"
)

// HTTP is the door over streamable HTTP at /mcp, with /metrics beside it.
type HTTP struct {
	door   *Door
	server *http.Server
	ln     net.Listener
	cancel context.CancelFunc
	wg     sync.WaitGroup
	served chan error
}

// NewAuthenticator builds the bearer-token, JWT and OAuth checks from the
// mcp section; serve calls it before anything listens, and closes it (it
// keeps a provider's keys fresh) after the door stops.
func NewAuthenticator(cfg *config.Config, logger *slog.Logger) (*mcp.Authenticator, error) {
	o, err := cfg.MCPAuthOptions(logger)
	if err != nil {
		return nil, err
	}
	return mcp.NewAuthenticator(o)
}

// ServeHTTP serves d on ln (opened by the caller) and starts keeping the
// tools in step with the schema. warn receives the banner warning about
// anonymous access on a non-loopback address. Stop ends both.
func (d *Door) ServeHTTP(cfg *config.Config, ln net.Listener, authn *mcp.Authenticator, obs *telemetry.Observers, logger *slog.Logger, warn io.Writer) *HTTP {
	if a := cfg.MCP.Anonymous; a != nil && !loopback(ln.Addr()) {
		fmt.Fprintf(warn, "pgmoat: WARNING: mcp.anonymous is set and MCP listens on %s, which is not a loopback address: "+
			"anyone who can reach it queries the database as user id %q without a token\n", ln.Addr(), a.UserID)
		logger.Warn("anonymous MCP access on a non-loopback address", "listen", ln.Addr().String(), "user_id", a.UserID)
	}
	ln = proxy.NewBackoffListener(ln, proxy.AcceptOptions{
		Logger: logger, FailedMsg: "mcp: accept error", RecoveredMsg: "mcp: accepting connections again",
		Failed: d.Server.AcceptFailed,
	})
	h := &HTTP{door: d, ln: netutil.LimitListener(ln, cfg.MCP.HTTP.MaxConnections), served: make(chan error, 1)}
	h.server = httpServer(cfg.MCP, withMetrics(d.Server.HTTPHandler(authn, httpOptions(cfg.MCP, logger)), obs), logger)
	rctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	h.wg.Add(2)
	go func() {
		defer h.wg.Done()
		if err := h.server.Serve(h.ln); !errors.Is(err, http.ErrServerClosed) {
			h.served <- err
		}
	}()
	go func() {
		defer h.wg.Done()
		_ = d.Run(rctx)
	}()
	return h
}

// Stop shuts the listener down, waiting for calls in flight until ctx
// ends (streams still open then, such as an idle GET stream, are cut),
// and stops following the schema.
func (h *HTTP) Stop(ctx context.Context) error {
	err := h.server.Shutdown(ctx)
	if err != nil {
		err = h.server.Close()
	}
	h.cancel()
	h.wg.Wait()
	select {
	case serr := <-h.served:
		err = errors.Join(err, serr)
	default:
	}
	return err
}

// httpOptions are the transport's limits from the mcp section.
func httpOptions(m config.MCP, logger *slog.Logger) mcp.HTTPOptions {
	return mcp.HTTPOptions{
		MaxRequestBytes: int64(m.MaxRequestBytes), SessionTimeout: m.SessionIdleTimeout.D(),
		MaxSessionsPerCaller: m.MaxSessionsPerToken, BodyTimeout: m.HTTP.BodyTimeout.D(),
		WriteTimeout: m.HTTP.WriteTimeout.D(), Stateless: m.Stateless, Logger: logger,
	}
}

// httpServer serves h with mcp.http's bounds on each connection: the
// headers must arrive within read_header_timeout, an idle keep-alive
// connection closes after idle_timeout, and the body deadline is the
// handler's, per request, as is the deadline on each write of a POST
// response (see mcp.HTTPOptions.BodyTimeout, WriteTimeout). No ReadTimeout
// or WriteTimeout: they would cut GET event streams, which stay open.
// The listener caps the connections (max_connections), and counts and
// backs off on temporary Accept errors such as EMFILE
// (proxy.NewBackoffListener, counting in mcp.Server.AcceptFailed).
func httpServer(m config.MCP, h http.Handler, logger *slog.Logger) *http.Server {
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

// withMetrics serves /metrics beside the MCP endpoint.
func withMetrics(h http.Handler, obs *telemetry.Observers) http.Handler {
	if obs == nil {
		return h
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", obs.MetricsHandler())
	mux.Handle("/", h)
	return mux
}
