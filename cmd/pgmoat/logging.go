package main

import (
	"io"
	"log/slog"
	"os"
)

// EnvLogFormat chooses the log format: json or text. The default is text
// when the logs go to a terminal and JSON otherwise (files, pipes,
// collectors).
const EnvLogFormat = "PGMOAT_LOG_FORMAT"

// newLogger makes the process's structured logger on w at the level
// PGMOAT_LOG_LEVEL names.
func newLogger(w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: logLevel()}
	if textLogs(w) {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
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
