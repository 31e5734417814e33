package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/pgmoat/pgmoat/cmd/pgmoat/config"
	"github.com/pgmoat/pgmoat/cmd/pgmoat/mcpdoor"
	"github.com/pgmoat/pgmoat/cmd/pgmoat/telemetry"
	"github.com/pgmoat/pgmoat/policy"
	"github.com/pgmoat/pgmoat/proxy"
	"github.com/pgmoat/pgmoat/proxy/slowlog"
)

// runMCP is `pgmoat mcp`: one MCP session over stdin/stdout for a local
// client (Claude Desktop, Claude Code), running as the identity given by
// --user-id or mcp.anonymous. Logs go to stderr: stdout carries only the
// protocol.
func runMCP(e env, args []string) int {
	fs := newFlags("mcp", e.stderr)
	path := configFlag(fs, "")
	userID := fs.String("user-id", "", "user id the session runs as (default: mcp.anonymous.user_id)")
	profile := fs.String("profile", "", "profile the session runs under (default: mcp.anonymous.profile, else readonly)")
	allowUnsafe := allowUnsafeFlag(fs)
	if code, ok := parseOrHelp(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(e.stderr, "pgmoat mcp: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	cfg, _, code := loadConfig("mcp", *path, "", e.stderr)
	if cfg == nil {
		return code
	}
	cfg.Backend.AllowUnsafeRole = cfg.Backend.AllowUnsafeRole || *allowUnsafe
	id, err := stdioIdentity(cfg, *userID, *profile)
	if err != nil {
		fmt.Fprintf(e.stderr, "pgmoat mcp: %s\n", config.RedactDSN(err.Error()))
		return exitUsage
	}
	if err := serveStdio(e, cfg, id); err != nil {
		fmt.Fprintf(e.stderr, "pgmoat mcp: %s\n", config.RedactDSN(err.Error()))
		return exitUsage
	}
	return exitOK
}

func stdioIdentity(cfg *config.Config, userID, profile string) (policy.Identity, error) {
	id := policy.Identity{UserID: userID, Profile: profile}
	if a := cfg.MCP.Anonymous; a != nil {
		if id.UserID == "" {
			id.UserID = a.UserID
		}
		if id.Profile == "" {
			id.Profile = a.Profile
		}
	}
	if id.UserID == "" {
		return id, errors.New("no identity: pass --user-id ID or set mcp.anonymous.user_id in the config")
	}
	id.Profile = id.ProfileName()
	if _, ok := cfg.Profiles[id.Profile]; !ok {
		return id, fmt.Errorf("--profile %q is not defined under profiles", id.Profile)
	}
	return id, nil
}

func serveStdio(e env, cfg *config.Config, id policy.Identity) error {
	// stdout carries the protocol; the logs (one record per tool call)
	// go to stderr, which MCP clients keep as the server's log.
	logger := telemetry.NewLogger(e.stderr)
	engine, err := policy.New(cfg.PolicyOptions())
	if err != nil {
		return fmt.Errorf("policy: %w", err)
	}
	opts, err := mcpdoor.ServerOptions(cfg, version)
	if err != nil {
		return err
	}
	pool, err := newBackendPool(e.ctx, cfg, e.stderr)
	if err != nil {
		return err
	}
	defer pool.Close()
	obs := telemetry.New(logger)
	obs.AllowValues(cfg.MCP.LogValues)
	slow := slowlog.New(slowlog.Options{Explainer: proxy.NewExecutor(pool, engine, cfg.RLS.Setting),
		Threshold: slowlog.EngineThresholds(engine), Interval: slowInterval, Logger: logger})
	defer slow.Close() // before the pool closes
	door, err := mcpdoor.New(e.ctx, cfg, opts, mcpdoor.Parts{Engine: engine, Pool: pool, Logger: logger,
		Identity: &id, Observers: obs, Slow: slow})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(e.ctx)
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = door.Run(ctx)
	}()
	defer func() { cancel(); <-done }()
	err = door.Server.Run(ctx, &sdk.IOTransport{Reader: io.NopCloser(e.stdin), Writer: nopWriteCloser{e.stdout}})
	if err == nil || errors.Is(err, io.EOF) || ctx.Err() != nil {
		return nil
	}
	return err
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }
