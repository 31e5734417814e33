package telemetry

import (
	"context"
	"crypto/rand"
	"log/slog"

	"github.com/pgmoat/pgmoat/mcp"
)

// OnCall records a finished MCP tool call: a log record (no argument
// values), the metrics and the SHOW TOOLS statistics. The record is
// built as slog attributes, without a map or reflection: one is written
// per call, so what it costs is paid on every call.
func (o *Observers) OnCall(rec mcp.CallRecord) {
	if o == nil {
		return
	}
	o.tools.record(rec)
	ctx := context.Background()
	if o.Logger == nil || !o.Logger.Enabled(ctx, slog.LevelInfo) {
		return
	}
	var buf [17]slog.Attr
	attrs := append(buf[:0], slog.String("request_id", callRequestID(rec)), slog.String("session_id", rec.SessionID),
		slog.String("tool", rec.Tool), slog.String("user_id", rec.UserID),
		slog.Float64("duration_ms", float64(rec.Duration.Microseconds())/1000), slog.Int("rows", rec.Rows),
		slog.Bool("truncated", rec.Truncated), slog.Bool("error", rec.IsError),
		slog.Bool("shape_cache_hit", rec.ShapeCacheHit), slog.Bool("result_cache_hit", rec.ResultCacheHit),
		slog.String("sql", rec.SQL), slog.Attr{Key: "arguments", Value: o.redact(rec.Tool, rec.Arguments)})
	if rec.HTTPRequestID != "" {
		attrs = append(attrs, slog.String("http_request_id", rec.HTTPRequestID))
	}
	if rec.DenialRule != "" {
		attrs = append(attrs, slog.String("verdict", "deny"), slog.String("rule", rec.DenialRule))
	}
	o.Logger.LogAttrs(ctx, slog.LevelInfo, "tool call", attrs...)
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

// noArguments is what a call without arguments logs: an empty object
// (an empty group would drop the key).
var noArguments = slog.AnyValue(map[string]any{})

// redacted stands for a value that is not logged.
var redacted = slog.StringValue("[redacted]")

// redact keeps the argument names, as pgmoat reads them (sorted, each
// once), and replaces every value not opted in by mcp.log_values. The
// arguments are read from their JSON text (mcp.EachArgument); a value
// that is not logged is never copied into the record.
func (o *Observers) redact(tool string, args []byte) slog.Value {
	var allowed map[string]bool
	if p := o.logValues.Load(); p != nil {
		allowed = *p
	}
	logs := func(name string) bool { return allowed[name] || allowed[tool+"."+name] }
	var out []slog.Attr
	mcp.EachArgument(args, logs, func(name string, v any) {
		if out == nil {
			out = make([]slog.Attr, 0, 8)
		}
		if logs(name) {
			out = append(out, slog.Any(name, v))
		} else {
			out = append(out, slog.Attr{Key: name, Value: redacted})
		}
	})
	if len(out) == 0 {
		return noArguments
	}
	return slog.GroupValue(out...)
}
