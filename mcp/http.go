package mcp

import (
	"log/slog"
	"net/http"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// HTTP defaults.
const (
	// DefaultMaxRequestBytes caps a request body: room for a 1 MB argument
	// to arrive and be refused as a tool error rather than a bare 413.
	DefaultMaxRequestBytes = 2 << 20
	// DefaultSessionTimeout closes sessions idle for this long.
	DefaultSessionTimeout = 30 * time.Minute
	// DefaultMaxSessionsPerCaller caps the sessions one caller holds.
	DefaultMaxSessionsPerCaller = 100
	// DefaultBodyTimeout bounds the reading of one POST body.
	DefaultBodyTimeout = 30 * time.Second
	// DefaultWriteTimeout bounds each write of a POST response.
	DefaultWriteTimeout = 30 * time.Second
	// Path is where the streamable HTTP transport is served.
	Path = "/mcp"
)

// HTTPOptions configure the streamable HTTP transport. The zero value
// means the defaults above.
type HTTPOptions struct {
	MaxRequestBytes int64
	// SessionTimeout closes a session that received no request for this
	// long (an open GET stream does not count as one).
	SessionTimeout time.Duration
	// MaxSessionsPerCaller caps the sessions one caller (the identity a
	// token maps to) holds at once; another initialize is refused with
	// 429 until one is closed or expires.
	MaxSessionsPerCaller int
	// BodyTimeout bounds the reading of one POST body, from the end of its
	// headers. It is a deadline on that request alone: GET event streams,
	// which stay open, are not cut by it.
	BodyTimeout time.Duration
	// WriteTimeout bounds each write of a POST response: a client that
	// stops reading is disconnected once a write has waited this long.
	// It is set afresh before every write, so a long tool call is not cut
	// by it, and GET event streams are not bound by it at all.
	WriteTimeout time.Duration
	// Stateless serves every POST on its own, with no MCP session
	// (Mcp-Session-Id) to remember: any instance behind a plain HTTP load
	// balancer can answer any request, with no sticky sessions. What a
	// session would hold is elsewhere or not needed: the caller comes
	// with each request's token, cursors are signed (give every instance
	// the same ServerOptions.CursorKey), caches are per server and keyed
	// by caller. What is lost: server-to-client requests and
	// notifications outside a request (list_changed: a client lists the
	// tools again when a call names one that is gone), GET event streams
	// and DELETE (405), logging/setLevel, and SessionTimeout and
	// MaxSessionsPerCaller, which have no sessions to act on.
	Stateless bool
	Logger    *slog.Logger
}

// HTTPHandler serves the streamable HTTP transport at Path: cross-origin
// requests refused, bearer authentication (401 with WWW-Authenticate,
// before any of the body is read, and the connection closed), the body
// read within BodyTimeout and capped, each write of a POST response
// done within WriteTimeout, per-tool scopes checked (toolscopes.go),
// sessions capped per caller (none when Stateless), each
// tools/call stamped with its request id (stampRequestIDsHeader), then the
// SDK's handler, which keeps its DNS-rebinding protection and answers
// each POST with one application/json body (GET streams stay events). The OAuth
// protected-resource metadata, when AuthOptions.Resource is set, is
// served beside it.
//
// The handler does not bound connections: the http.Server that serves it
// needs ReadHeaderTimeout, IdleTimeout, a listener that caps concurrent
// connections and backs off on accept errors (calling Server.AcceptFailed),
// and no ReadTimeout or WriteTimeout, which would end GET event streams.
func (s *Server) HTTPHandler(a *Authenticator, o HTTPOptions) http.Handler {
	if o.MaxRequestBytes <= 0 {
		o.MaxRequestBytes = DefaultMaxRequestBytes
	}
	if o.SessionTimeout <= 0 {
		o.SessionTimeout = DefaultSessionTimeout
	}
	if o.MaxSessionsPerCaller <= 0 {
		o.MaxSessionsPerCaller = DefaultMaxSessionsPerCaller
	}
	if o.BodyTimeout <= 0 {
		o.BodyTimeout = DefaultBodyTimeout
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	if o.Logger == nil {
		o.Logger = s.opts.Logger
	}
	streamable := sdk.NewStreamableHTTPHandler(func(*http.Request) *sdk.Server { return s.sdk }, &sdk.StreamableHTTPOptions{
		// stampRequestIDsHeader caps the body as sent; the stamped copy the
		// SDK reads may be a little longer.
		MaxRequestBodyBytes: -1,
		SessionTimeout:      o.SessionTimeout,
		Stateless:           o.Stateless,
		// A POST is answered with one JSON body rather than an event
		// stream: no event framing, one write instead of a flush per
		// event and a closing chunk, and a body the client reads whole.
		// Every client accepts both (the SDK refuses a POST whose Accept
		// lacks either), and pgmoat sends nothing while a request runs
		// (no progress, no log messages) that would need the stream;
		// list_changed goes to the GET stream as before.
		JSONResponse: true,
		Logger:       o.Logger,
	})
	h := stampRequestIDsHeader(splicingHTTP(streamable, s.splices), o.MaxRequestBytes)
	if !o.Stateless {
		// Stateless requests carry no session id: each would count as an
		// initialize while in flight.
		h = newSessionCap(s.sdk, o.MaxSessionsPerCaller).Handler(h)
	}
	mux := http.NewServeMux()
	mux.Handle(Path, writeDeadline(http.NewCrossOriginProtection().Handler(a.Middleware(bodyDeadline(s.toolScopes(a, h, o.MaxRequestBytes), o.BodyTimeout))), o.WriteTimeout))
	a.serveMetadata(mux)
	return mux
}
