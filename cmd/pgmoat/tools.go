package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgmoat/pgmoat/cmd/pgmoat/config"
	"github.com/pgmoat/pgmoat/introspect"
	"github.com/pgmoat/pgmoat/mcp"
)

// runTools prints the MCP tools pgmoat would generate for the configured
// backend: for review as text, or with --json exactly as tools/list carries
// them, with token estimates either way.
func runTools(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("tools", stderr)
	configPath := configFlag(fs, "")
	asJSON := fs.Bool("json", false, "print the tools as tools/list carries them")
	profile := fs.String("profile", config.DefaultProfile, "profile whose tools are listed: tools the policy refuses to it are left out")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: pgmoat tools [--config FILE] [--json]\n\nPrints the MCP tools generated from the backend's schema and their approximate token cost.")
		fs.PrintDefaults()
	}
	if code, ok := parseOrHelp(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "pgmoat tools: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	path := config.ResolvePath(*configPath)
	if path == "" {
		fmt.Fprintln(stderr, "pgmoat tools: needs a database to read the schema from: pass --config FILE (or set "+
			config.EnvConfig+") naming a config whose backend.dsn points at it; `pgmoat demo` serves a ready-made one")
		return exitUsage
	}
	cfg, err := config.Load(path)
	if err != nil {
		fmt.Fprintf(stderr, "pgmoat tools: %s\n", config.RedactDSN(err.Error()))
		return exitUsage
	}
	if _, ok := cfg.Profiles[*profile]; !ok {
		fmt.Fprintf(stderr, "pgmoat tools: --profile %q is not defined under profiles\n", *profile)
		return exitUsage
	}
	set, left, err := generateTools(cfg, *profile)
	if err != nil {
		fmt.Fprintf(stderr, "pgmoat tools: %s\n", config.RedactDSN(err.Error()))
		return exitUsage
	}
	if *asJSON {
		err = set.WriteJSON(stdout)
	} else if err = set.WriteText(stdout); err == nil {
		writeLeftOut(stdout, *profile, left)
	}
	if err != nil {
		fmt.Fprintf(stderr, "pgmoat tools: %s\n", config.RedactDSN(err.Error()))
		return exitUsage
	}
	return exitOK
}

func generateTools(cfg *config.Config, profile string) (*mcp.ToolSet, []mcp.LeftOut, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dsn := cfg.Backend.DSN.Value()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, nil, fmt.Errorf("cannot connect to the backend (%s): %s", config.RedactDSN(dsn), config.RedactDSN(err.Error()))
	}
	defer func() { _ = conn.Close(context.Background()) }()
	snap, err := introspect.Load(ctx, conn)
	if err != nil {
		return nil, nil, err
	}
	return admittedTools(cfg, snap, profile)
}
