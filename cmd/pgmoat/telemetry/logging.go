package telemetry

import (
	"io"
	"log/slog"
	"os"

	"github.com/pgmoat/pgmoat/cmd/pgmoat/config"
)

// EnvLogFormat chooses the log format: json or text. The default is text
// when the logs go to a terminal and JSON otherwise (files, pipes,
// collectors).
const EnvLogFormat = "PGMOAT_LOG_FORMAT"

// NewLogger makes the process's structured logger on w at the level
// PGMOAT_LOG_LEVEL names. Every string and error it writes goes through
// config.RedactDSN: a connection error that echoes the backend DSN must
// not put its password in the log.
func NewLogger(w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: logLevel(), ReplaceAttr: redactAttr}
	if textLogs(w) {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// redactAttr masks connection-string passwords in a log attribute.
func redactAttr(_ []string, a slog.Attr) slog.Attr {
	switch a.Value.Kind() {
	case slog.KindString: // read as a string: Value.Any would box it, on every attribute of every line
		if v := a.Value.String(); config.RedactDSN(v) != v {
			a.Value = slog.StringValue(config.RedactDSN(v))
		}
	case slog.KindAny:
		if l, ok := a.Value.Any().(slog.Level); ok {
			// The record's level, which a handler with a ReplaceAttr
			// passes as a Level: as a string it is written directly,
			// the same text, instead of through encoding/json.
			a.Value = slog.StringValue(l.String())
		} else if err, ok := a.Value.Any().(error); ok {
			if s := err.Error(); config.RedactDSN(s) != s {
				a.Value = slog.StringValue(config.RedactDSN(s))
			}
		}
	}
	return a
}

func textLogs(w io.Writer) bool {
	switch os.Getenv(EnvLogFormat) {
	case "text":
		return true
	case "json":
		return false
	}
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
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
