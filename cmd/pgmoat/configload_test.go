package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Every subcommand that reads a config says what is wrong with it the
// same way, naming itself, and exits with usage status before it
// connects anywhere.
func TestSubcommandConfigProblems(t *testing.T) {
	t.Setenv("PGMOAT_CONFIG", "")
	t.Setenv("PGMOAT_BACKEND_DSN", "")
	dir := t.TempDir()
	noDSN := filepath.Join(dir, "nodsn.yaml")
	if err := os.WriteFile(noDSN, []byte("proxy:\n  listen: 127.0.0.1:0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.yaml")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"serve"}, "pgmoat serve: no config: pass --config FILE or set PGMOAT_CONFIG (try `pgmoat demo` for a ready-made set-up)\n"},
		{[]string{"mcp"}, "pgmoat mcp: no config: pass --config FILE or set PGMOAT_CONFIG\n"},
		{[]string{"doctor"}, "pgmoat doctor: no config: pass --config FILE or set PGMOAT_CONFIG\n"},
		{[]string{"serve", "--config", missing}, "pgmoat serve: cannot read config " + missing + ": open " + missing + ": no such file or directory\n"},
		{[]string{"mcp", "--config", missing}, "pgmoat mcp: cannot read config " + missing + ": open " + missing + ": no such file or directory\n"},
		{[]string{"doctor", "--config", missing}, "pgmoat doctor: cannot read config " + missing + ": open " + missing + ": no such file or directory\n"},
		{[]string{"serve", "--config", noDSN}, "pgmoat serve: " + noDSN + ": backend.dsn is not set (or set PGMOAT_BACKEND_DSN)\n"},
		{[]string{"doctor", "--config", noDSN}, "pgmoat doctor: " + noDSN + ": backend.dsn is not set (or set PGMOAT_BACKEND_DSN)\n"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var out, errb bytes.Buffer
			e := env{ctx: context.Background(), stdin: strings.NewReader(""), stdout: &out, stderr: &errb}
			if code := run(e, tc.args); code != exitUsage {
				t.Errorf("exit %d, want %d", code, exitUsage)
			}
			if errb.String() != tc.want {
				t.Errorf("stderr:\n%q\nwant:\n%q", errb.String(), tc.want)
			}
			if out.Len() > 0 {
				t.Errorf("stdout: %q", out.String())
			}
		})
	}
}
