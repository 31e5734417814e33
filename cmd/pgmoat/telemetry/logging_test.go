package telemetry

import (
	"bytes"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
)

func TestLogFormat(t *testing.T) {
	devNull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0) // a character device, like a terminal
	if err != nil {
		t.Fatal(err)
	}
	defer devNull.Close()
	for _, tc := range []struct {
		env  string
		file bool
		text bool
	}{
		{"", false, false}, // pipes, files, buffers: JSON
		{"", true, true},   // a terminal: text
		{"json", true, false},
		{"text", false, true},
	} {
		t.Setenv(EnvLogFormat, tc.env)
		var w io.Writer = &bytes.Buffer{}
		if tc.file {
			w = devNull
		}
		if got := textLogs(w); got != tc.text {
			t.Errorf("%s=%q, file %v: text %v, want %v", EnvLogFormat, tc.env, tc.file, got, tc.text)
		}
	}
	t.Setenv(EnvLogFormat, "")
	var buf bytes.Buffer
	NewLogger(&buf).Info("tool call", "tool", "query_orders")
	if !strings.HasPrefix(buf.String(), "{") || !strings.Contains(buf.String(), `"tool":"query_orders"`) || !strings.Contains(buf.String(), `"level":"INFO"`) {
		t.Errorf("default log record: %s", buf.String())
	}
	t.Setenv(EnvLogLevel, "warn")
	buf.Reset()
	NewLogger(&buf).Info("dropped")
	if buf.Len() != 0 {
		t.Errorf("PGMOAT_LOG_LEVEL=warn kept an info record: %s", buf.String())
	}
}

// TestLogsMaskDSN: a record that carries a DSN, in its message, a string
// attribute or an error, never shows the password, in either format.
func TestLogsMaskDSN(t *testing.T) {
	for _, format := range []string{"json", "text"} {
		t.Setenv(EnvLogFormat, format)
		var buf bytes.Buffer
		log := NewLogger(&buf)
		log.Error("connect postgres://u:hunter2@h/db failed")
		log.Warn("reload failed", "dsn", "postgres://u@h/db?password=hunter2")
		log.Error("reload failed", "err", errors.New("cannot parse `host=h password='hunter 2'`: bad"))
		if strings.Contains(buf.String(), "hunter") || strings.Count(buf.String(), "********") != 3 || !strings.Contains(buf.String(), "WARN") {
			t.Errorf("%s logs: %s", format, buf.String())
		}
	}
}
