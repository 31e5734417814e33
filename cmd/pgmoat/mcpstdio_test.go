package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// writeConfig writes a config file for the fixture's backend with an
// anonymous identity (what `pgmoat mcp` runs as without --user-id).
func (f *shopFixture) writeConfig(t *testing.T, userID string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "pgmoat.yaml")
	text := "backend:\n  dsn: \"" + strings.ReplaceAll(f.cfg.Backend.DSN.Value(), `"`, `\"`) + "\"\n" +
		"mcp:\n  anonymous:\n    user_id: \"" + userID + "\"\n"
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// lockedBuffer collects stderr written from another goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestMCPOverStdio(t *testing.T) {
	t.Parallel()
	f := newShopFixture(t)
	cfgPath := f.writeConfig(t, "1")

	t.Run("runMCP serves one session on stdin and stdout", func(t *testing.T) {
		inR, inW := io.Pipe()
		outR, outW := io.Pipe()
		var stderr lockedBuffer
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		code := make(chan int, 1)
		go func() {
			code <- runMCP(env{ctx: ctx, stdin: inR, stdout: outW, stderr: &stderr}, []string{"--config", cfgPath, "--user-id", "2"})
			outW.Close()
		}()
		client := sdk.NewClient(&sdk.Implementation{Name: "pgmoat-test", Version: "1"}, nil)
		cctx, ccancel := context.WithTimeout(ctx, time.Minute)
		defer ccancel()
		cs, err := client.Connect(cctx, &sdk.IOTransport{Reader: outR, Writer: inW}, nil)
		if err != nil {
			t.Fatalf("connect: %v\nstderr: %s", err, stderr.String())
		}
		s := &session{cs: cs}
		got := ids(t, s.rows(t, "query_customers", map[string]any{"limit": 1000, "columns": []string{"id"}}), "id")
		if want := f.superCount(t, "2", "SELECT count(*) FROM customers"); len(got) != want {
			t.Errorf("--user-id 2 saw %d customers, want %d", len(got), want)
		}
		_ = cs.Close()
		select {
		case c := <-code:
			if c != exitOK {
				t.Errorf("exit %d; stderr: %s", c, stderr.String())
			}
		case <-time.After(30 * time.Second):
			t.Fatal("pgmoat mcp did not end when stdin closed")
		}
	})

	t.Run("without an identity it refuses to start", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "noid.yaml")
		text := "backend:\n  dsn: \"" + strings.ReplaceAll(f.cfg.Backend.DSN.Value(), `"`, `\"`) + "\"\n"
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		var stderr bytes.Buffer
		c := runMCP(env{ctx: context.Background(), stdin: strings.NewReader(""), stdout: io.Discard, stderr: &stderr}, []string{"--config", path})
		if c != exitUsage || !strings.Contains(stderr.String(), "--user-id") {
			t.Errorf("exit %d, stderr %q", c, stderr.String())
		}
	})

	t.Run("Inspector CLI over stdio", func(t *testing.T) {
		// The Inspector starts this test binary as its stdio server; the
		// helper below turns it into `pgmoat mcp`.
		target := os.Args[0] + " -test.run=^TestHelperMCPStdio$"
		out := inspector(t, target, "-e", "PGMOAT_CONFIG="+cfgPath, "-e", "PGMOAT_TEST_STDIO=1", "--method", "tools/list")
		if !strings.Contains(out, "query_orders") {
			t.Errorf("tools/list:\n%.500s", out)
		}
		out = inspector(t, target, "-e", "PGMOAT_CONFIG="+cfgPath, "-e", "PGMOAT_TEST_STDIO=1", "--method", "tools/call", "--tool-name", "query_orders",
			"--tool-arg", "limit=1", "--tool-arg", "columns=[\"id\"]")
		if !strings.Contains(out, `"row_count": 1`) {
			t.Errorf("tools/call:\n%.800s", out)
		}
	})
}

// TestHelperMCPStdio is `pgmoat mcp` on the process's real stdin and
// stdout when the Inspector test starts this binary; otherwise it does
// nothing.
func TestHelperMCPStdio(t *testing.T) {
	if os.Getenv("PGMOAT_TEST_STDIO") != "1" {
		return
	}
	os.Exit(runMCP(env{ctx: context.Background(), stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr}, nil))
}
