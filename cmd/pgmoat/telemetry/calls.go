package telemetry

import (
	"crypto/rand"

	"github.com/pgmoat/pgmoat/mcp"
)

// OnCall records a finished MCP tool call: a log record (no argument
// values), the metrics and the SHOW TOOLS statistics.
func (o *Observers) OnCall(rec mcp.CallRecord) {
	if o == nil {
		return
	}
	o.tools.record(rec)
	if o.Logger != nil {
		attrs := []any{"request_id", callRequestID(rec), "session_id", rec.SessionID, "tool", rec.Tool, "user_id", rec.UserID,
			"duration_ms", float64(rec.Duration.Microseconds()) / 1000, "rows", rec.Rows,
			"truncated", rec.Truncated, "error", rec.IsError,
			"shape_cache_hit", rec.ShapeCacheHit, "result_cache_hit", rec.ResultCacheHit,
			"sql", rec.SQL, "arguments", o.redact(rec.Tool, rec.Arguments)}
		if rec.HTTPRequestID != "" {
			attrs = append(attrs, "http_request_id", rec.HTTPRequestID)
		}
		if rec.DenialRule != "" {
			attrs = append(attrs, "verdict", "deny", "rule", rec.DenialRule)
		}
		o.Logger.Info("tool call", attrs...)
	}
}

// maxLoggedID caps a client-chosen id in the log, as the X-Request-Id
// header is capped.
const maxLoggedID = 128

// callRequestID is the call's JSON-RPC id, or a generated one when the
// call had none (a notification) or came over a transport that does not
// carry it. A client's string id is logged quoted ("abc"), so it cannot
// pass for a generated one.
func callRequestID(rec mcp.CallRecord) string {
	if rec.RequestID != "" {
		if len(rec.RequestID) > maxLoggedID {
			return rec.RequestID[:maxLoggedID] // the client chooses its length
		}
		return rec.RequestID
	}
	return rand.Text()[:16]
}

// redact keeps the argument names and replaces every value not opted in
// by mcp.log_values.
func (o *Observers) redact(tool string, args map[string]any) map[string]any {
	out := make(map[string]any, len(args))
	var allowed map[string]bool
	if p := o.logValues.Load(); p != nil {
		allowed = *p
	}
	for name, v := range args {
		if allowed[name] || allowed[tool+"."+name] {
			out[name] = v
		} else {
			out[name] = "[redacted]"
		}
	}
	return out
}
