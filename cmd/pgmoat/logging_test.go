package main

import (
	"bytes"
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
	newLogger(&buf).Info("tool call", "tool", "query_orders")
	if !strings.HasPrefix(buf.String(), "{") || !strings.Contains(buf.String(), `"tool":"query_orders"`) {
		t.Errorf("default log record: %s", buf.String())
	}
	t.Setenv(EnvLogLevel, "warn")
	buf.Reset()
	newLogger(&buf).Info("dropped")
	if buf.Len() != 0 {
		t.Errorf("PGMOAT_LOG_LEVEL=warn kept an info record: %s", buf.String())
	}
}
