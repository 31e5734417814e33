package main

import (
	"context"
	"log/slog"

	"github.com/pgmoat/pgmoat/cmd/pgmoat/config"
	"github.com/pgmoat/pgmoat/cmd/pgmoat/mcpdoor"
	"github.com/pgmoat/pgmoat/cmd/pgmoat/telemetry"
	"github.com/pgmoat/pgmoat/policy"
	"github.com/pgmoat/pgmoat/proxy"
)

// newMCPStack builds the MCP door on the fixture's engine and pool as
// serve and pgmoat mcp do (id nil: over HTTP), without listening.
func newMCPStack(ctx context.Context, cfg *config.Config, engine *policy.Engine, pool *proxy.Pool, logger *slog.Logger,
	id *policy.Identity, obs *telemetry.Observers) (*mcpdoor.Door, error) {
	opts, err := mcpdoor.ServerOptions(cfg, version)
	if err != nil {
		return nil, err
	}
	return mcpdoor.New(ctx, cfg, opts, mcpdoor.Parts{Engine: engine, Pool: pool, Logger: logger, Identity: id, Observers: obs})
}
