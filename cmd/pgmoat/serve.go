package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/pgmoat/pgmoat/cmd/pgmoat/config"
)

func runServe(e env, args []string) int {
	fs := newFlags("serve", e.stderr)
	path := configFlag(fs, "")
	allowUnsafe := allowUnsafeFlag(fs)
	if code, ok := parseOrHelp(fs, args); !ok {
		return code
	}
	cfg, code := loadBackendConfig("serve", *path, " (try `pgmoat demo` for a ready-made set-up)", e.stderr)
	if cfg == nil {
		return code
	}
	cfg.Backend.AllowUnsafeRole = cfg.Backend.AllowUnsafeRole || *allowUnsafe
	if err := serve(e.ctx, e.stdout, cfg); err != nil {
		fmt.Fprintf(e.stderr, "pgmoat serve: %s\n", config.RedactDSN(err.Error()))
		return exitUsage
	}
	return exitOK
}

func serve(ctx context.Context, out io.Writer, cfg *config.Config) error {
	st, err := startStack(ctx, out, cfg)
	if err != nil {
		return err
	}
	// SIGHUP is caught from here on: it must never find the default
	// action (exit) once a line below has said pgmoat is up.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	fmt.Fprintf(out, "pgmoat: proxy listening on %s (database %q)\n", cfg.Proxy.Listen, st.databaseName(cfg))
	if cfg.Proxy.UnixSocket != "" {
		_, port, _ := net.SplitHostPort(cfg.Proxy.Listen)
		fmt.Fprintf(out, "pgmoat: proxy listening on unix socket %s (psql -h %s -p %s)\n",
			filepath.Join(cfg.Proxy.UnixSocket, ".s.PGSQL."+port), cfg.Proxy.UnixSocket, port)
	}
	fmt.Fprintf(out, "pgmoat: MCP listening on http://%s/mcp (metrics at /metrics)\n", cfg.MCP.Listen)
	for running := true; running; {
		select {
		case <-ctx.Done():
			running = false
		case err := <-st.served:
			st.served <- err
			running = false
		case <-hup:
			// SIGHUP re-reads the config file and the schema, like the
			// admin console's RELOAD. Its outcome is a log record, in the
			// format PGMOAT_LOG_FORMAT chose, for the collector that
			// reads serve's output.
			summary, err := st.live.Reload(ctx)
			if err != nil {
				st.obs.Logger.Error("reload on SIGHUP failed", "err", err)
			} else {
				st.obs.Logger.Info("reloaded on SIGHUP", "changes", summary)
			}
		}
	}
	fmt.Fprintln(out, "pgmoat: shutting down …")
	return st.stop(cfg.Proxy.ShutdownGrace.D())
}

func (st *stack) databaseName(cfg *config.Config) string {
	return dbNameOf(cfg.Backend.DSN.Value())
}
