package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestConnectErrorsMaskPassword: every command that connects to the
// backend reports a failed connection without the password, whichever
// way the DSN carries it.
func TestConnectErrorsMaskPassword(t *testing.T) {
	for _, dsn := range []string{
		"postgres://pgmoat@127.0.0.1:1/shop?password=hunter2&connect_timeout=2",
		"postgres://pgmoat@127.0.0.1:1/shop?connect_timeout=2&Pass%77ord=hunter2",
		"postgres://pgmoat:hunter2@127.0.0.1:1/shop?connect_timeout=2",
		"host=127.0.0.1 port=1 user=pgmoat password='hunter2' connect_timeout=2",
		"host=127.0.0.1 port=1 user=pgmoat password=hunter\\ 2 connect_timeout=2",
	} {
		path := filepath.Join(t.TempDir(), "pgmoat.yaml")
		text := "backend:\n  dsn: '" + strings.ReplaceAll(dsn, "'", "''") + "'\nmcp:\n  anonymous: {user_id: \"1\"}\n"
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		for _, cmd := range []string{"serve", "mcp", "doctor", "tools"} {
			var stdout, stderr bytes.Buffer
			code := run(env{ctx: context.Background(), stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr}, []string{cmd, "--config", path})
			out := stdout.String() + stderr.String()
			if code != exitUsage || !strings.Contains(out, "connect") {
				t.Errorf("%s with %q: exit %d, output %q; want a connection error", cmd, dsn, code, out)
			}
			if strings.Contains(out, "hunter") {
				t.Errorf("%s with %q prints the password: %s", cmd, dsn, out)
			}
		}
	}
}
