package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/pgmoat/pgmoat/cmd/pgmoat/config"
	"github.com/pgmoat/pgmoat/cmd/pgmoat/telemetry"
	"github.com/pgmoat/pgmoat/proxy"
)

// newBackendPool opens the backend pool and checks it can connect. The
// pool's first connection checks the backend role and refuses an unsafe
// one unless backend.allow_unsafe_role (or --allow-unsafe-backend-role)
// says otherwise; then the warning goes to warn.
func newBackendPool(ctx context.Context, cfg *config.Config, warn io.Writer) (*proxy.Pool, error) {
	pc := cfg.Backend.Pool
	pool, err := proxy.NewPool(proxy.PoolConfig{
		DSN: cfg.Backend.DSN.Value(), Min: pc.Min, Max: pc.Max,
		AcquireTimeout: pc.AcquireTimeout.D(), MaxLifetime: pc.MaxLifetime.D(), IdleTimeout: pc.IdleTimeout.D(),
		MaxPerIdentity:  pc.EffectiveMaxPerIdentity(),
		BehindPooler:    cfg.Backend.BehindPooler,
		AllowUnsafeRole: cfg.Backend.AllowUnsafeRole,
		OnUnsafeRole: func(e *proxy.UnsafeRoleError) {
			fmt.Fprintf(warn, "pgmoat: WARNING: using an unsafe backend role as allowed (backend.allow_unsafe_role): %s\n", e.Error())
		},
		Logger:   telemetry.NewLogger(warn),
		Replicas: cfg.Backend.ReplicaPools(), MaxReplicaLag: cfg.Backend.MaxReplicaLag.D(), Primary: cfg.Backend.Primary,
	})
	if err != nil {
		return nil, fmt.Errorf("backend: %s", config.RedactDSN(err.Error()))
	}
	wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := pool.Warm(wctx); err != nil {
		pool.Close()
		var unsafe *proxy.UnsafeRoleError
		if errors.As(err, &unsafe) {
			return nil, unsafe
		}
		return nil, fmt.Errorf("cannot connect to the backend (%s): %s; check backend.dsn, the password and that PostgreSQL is running",
			config.RedactDSN(cfg.Backend.DSN.Value()), config.RedactCause(err))
	}
	return pool, nil
}

// allowUnsafeFlag defines --allow-unsafe-backend-role, which every
// command that opens backends takes: it overrides backend.allow_unsafe_role
// for this run.
func allowUnsafeFlag(fs *flag.FlagSet) *bool {
	return fs.Bool("allow-unsafe-backend-role", false,
		"use a backend role that could write, bypass row-level security or read server files (overrides backend.allow_unsafe_role)")
}
