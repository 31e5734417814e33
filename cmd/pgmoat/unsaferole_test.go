package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// writeSuperConfig writes a config whose backend role is the cluster's
// superuser, with listeners on free ports and an anonymous MCP identity.
func (f *shopFixture) writeSuperConfig(t *testing.T, extra string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "pgmoat.yaml")
	text := "backend:\n  dsn: \"" + strings.ReplaceAll(f.superDSN, `"`, `\"`) + "\"\n" + extra +
		"proxy:\n  listen: 127.0.0.1:0\nmcp:\n  listen: 127.0.0.1:0\n  anonymous: {user_id: \"1\"}\n"
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestEveryDoorRefusesUnsafeRole: serve and the stdio MCP door both
// refuse a superuser backend role, say why and name the flag that
// overrides it; the flag (and backend.allow_unsafe_role) let each start,
// with a warning; doctor reports the role without serving.
func TestEveryDoorRefusesUnsafeRole(t *testing.T) {
	t.Parallel()
	f := newShopFixture(t)
	plain := f.writeSuperConfig(t, "")
	allowed := f.writeSuperConfig(t, "  allow_unsafe_role: true\n")
	refused := func(t *testing.T, code int, stderr string) {
		t.Helper()
		if code != exitUsage || !strings.Contains(stderr, "backend.unsafe_role") || !strings.Contains(stderr, "superuser") ||
			!strings.Contains(stderr, "--allow-unsafe-backend-role") {
			t.Errorf("exit %d, stderr %q; want a refusal that says why and how to override", code, stderr)
		}
	}

	t.Run("serve", func(t *testing.T) {
		var stderr bytes.Buffer
		code := run(env{ctx: context.Background(), stdin: strings.NewReader(""), stdout: io.Discard, stderr: &stderr}, []string{"serve", "--config", plain})
		refused(t, code, stderr.String())
		for _, args := range [][]string{{"serve", "--config", plain, "--allow-unsafe-backend-role"}, {"serve", "--config", allowed}} {
			serveUntilUp(t, args)
		}
	})

	t.Run("mcp over stdio", func(t *testing.T) {
		var stderr bytes.Buffer
		code := run(env{ctx: context.Background(), stdin: strings.NewReader(""), stdout: io.Discard, stderr: &stderr}, []string{"mcp", "--config", plain})
		refused(t, code, stderr.String())
		for _, args := range [][]string{{"mcp", "--config", plain, "--allow-unsafe-backend-role"}, {"mcp", "--config", allowed}} {
			stdioLists(t, args)
		}
	})

	t.Run("doctor reports it", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		code := run(env{ctx: context.Background(), stdout: &stdout, stderr: &stderr}, []string{"doctor", "--config", plain})
		if code != exitNo || !strings.Contains(stdout.String(), "[FAIL] role.superuser") {
			t.Errorf("exit %d\n%s%s", code, stdout.String(), stderr.String())
		}
	})

	t.Run("demo takes the flag", func(t *testing.T) {
		var stderr bytes.Buffer
		code := run(env{ctx: context.Background(), stdout: io.Discard, stderr: &stderr}, []string{"demo", "--allow-unsafe-backend-role", "--scale", "0"})
		if code != exitUsage || !strings.Contains(stderr.String(), "--scale must be") {
			t.Errorf("exit %d, stderr %q", code, stderr.String())
		}
	})
}

// serveUntilUp runs pgmoat serve with args until it says both doors
// listen, then stops it; the unsafe role must have been warned about.
func serveUntilUp(t *testing.T, args []string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	outR, outW := io.Pipe()
	var stderr lockedBuffer
	code := make(chan int, 1)
	go func() {
		code <- run(env{ctx: ctx, stdin: strings.NewReader(""), stdout: outW, stderr: &stderr}, args)
		outW.Close()
	}()
	var out strings.Builder
	up := false
	for sc := bufio.NewScanner(outR); sc.Scan(); {
		out.WriteString(sc.Text() + "\n")
		if strings.Contains(sc.Text(), "MCP listening") {
			up = true
			cancel()
		}
	}
	if c := <-code; c != exitOK || !up || !strings.Contains(out.String(), "WARNING: using an unsafe backend role") {
		t.Errorf("%v: exit %d, up %v\nstdout: %s\nstderr: %s", args, c, up, out.String(), stderr.String())
	}
}

// stdioLists runs pgmoat mcp with args, lists its tools and closes stdin;
// the warning goes to stderr, never to stdout, which carries the protocol.
func stdioLists(t *testing.T, args []string) {
	t.Helper()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	var stderr lockedBuffer
	code := make(chan int, 1)
	go func() {
		code <- run(env{ctx: context.Background(), stdin: inR, stdout: outW, stderr: &stderr}, args)
		outW.Close()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cs, err := sdk.NewClient(&sdk.Implementation{Name: "pgmoat-test", Version: "1"}, nil).
		Connect(ctx, &sdk.IOTransport{Reader: outR, Writer: inW}, nil)
	if err != nil {
		t.Fatalf("%v: connect: %v\nstderr: %s", args, err, stderr.String())
	}
	tools, err := cs.ListTools(ctx, nil)
	if err != nil {
		t.Errorf("%v: tools/list: %v", args, err)
	} else if len(tools.Tools) == 0 {
		t.Errorf("%v: tools/list is empty", args)
	}
	_ = cs.Close()
	if c := <-code; c != exitOK || !strings.Contains(stderr.String(), "WARNING: using an unsafe backend role") {
		t.Errorf("%v: exit %d, stderr %s", args, c, stderr.String())
	}
}
