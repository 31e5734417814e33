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
	// Path is where the streamable HTTP transport is served.
	Path = "/mcp"
)

// HTTPOptions configure the streamable HTTP transport. The zero value
// means the defaults above.
type HTTPOptions struct {
	MaxRequestBytes int64
	SessionTimeout  time.Duration
	Logger          *slog.Logger
}

// HTTPHandler serves the streamable HTTP transport at Path: cross-origin
// requests refused, bearer authentication (401 with WWW-Authenticate),
// request bodies capped and each tools/call stamped with its request id
// (StampRequestIDsHTTP), then the SDK's handler, which keeps its
// DNS-rebinding protection.
func (s *Server) HTTPHandler(a *Authenticator, o HTTPOptions) http.Handler {
	if o.MaxRequestBytes <= 0 {
		o.MaxRequestBytes = DefaultMaxRequestBytes
	}
	if o.SessionTimeout <= 0 {
		o.SessionTimeout = DefaultSessionTimeout
	}
	if o.Logger == nil {
		o.Logger = s.opts.Logger
	}
	streamable := sdk.NewStreamableHTTPHandler(func(*http.Request) *sdk.Server { return s.sdk }, &sdk.StreamableHTTPOptions{
		// StampRequestIDsHTTP caps the body as sent; the stamped copy the
		// SDK reads may be a little longer.
		MaxRequestBodyBytes: -1,
		SessionTimeout:      o.SessionTimeout,
		Logger:              o.Logger,
	})
	mux := http.NewServeMux()
	mux.Handle(Path, http.NewCrossOriginProtection().Handler(a.Middleware(StampRequestIDsHTTP(streamable, o.MaxRequestBytes))))
	return mux
}
