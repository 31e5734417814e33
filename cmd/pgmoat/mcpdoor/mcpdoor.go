package mcpdoor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pgmoat/pgmoat/cmd/pgmoat/config"
	"github.com/pgmoat/pgmoat/cmd/pgmoat/live"
	"github.com/pgmoat/pgmoat/cmd/pgmoat/telemetry"
	"github.com/pgmoat/pgmoat/introspect"
	"github.com/pgmoat/pgmoat/mcp"
	"github.com/pgmoat/pgmoat/policy"
	"github.com/pgmoat/pgmoat/proxy"
	"github.com/pgmoat/pgmoat/proxy/slowlog"
)

// Parts are what the MCP door is built on, shared with the proxy door.
type Parts struct {
	Engine   *policy.Engine
	Pool     *proxy.Pool
	Logger   *slog.Logger
	Identity *policy.Identity // the stdio session's; nil over HTTP, where tokens name the caller
	// Observers receive each tool call; nil: none.
	Observers *telemetry.Observers
	// Profiles follow the schema; nil: the door makes its own.
	Profiles *live.Profiles
	// Slow captures slow statements; nil: none.
	Slow *slowlog.Log
}

// Door is the MCP server and the reloader that keeps its tools current.
// Run must be running for the tools to follow the schema.
type Door struct {
	Server   *mcp.Server
	reloader *introspect.Reloader
}

// New reads the catalog, generates the tools and builds the server, in
// that order; nothing listens yet. opts come from ServerOptions.
func New(ctx context.Context, cfg *config.Config, opts mcp.ServerOptions, p Parts) (*Door, error) {
	d := &Door{}
	profiles := p.Profiles
	if profiles == nil {
		profiles = live.NewProfiles(p.Engine, cfg)
	}
	logger := p.Logger
	var mu sync.Mutex // OnChange runs on the reloader's goroutine; Server is set before Run starts it
	reloader, err := introspect.NewReloader(ctx, cfg.Backend.DSN.Value(), introspect.ReloaderOptions{
		Logger: logger,
		OnChange: func(_, cur *introspect.Snapshot, _ introspect.Diff) {
			if err := profiles.SetSnapshot(cur); err != nil {
				logger.Error("readable schemas not updated after a schema change", "err", err)
			}
			mu.Lock()
			defer mu.Unlock()
			if err := d.Server.SchemaChanged(cur); err != nil {
				logger.Error("MCP tools not updated after a schema change", "err", err)
			}
		},
	})
	if err != nil {
		return nil, fmt.Errorf("reading the schema for MCP tools: %s", config.RedactDSN(err.Error()))
	}
	if err := profiles.SetSnapshot(reloader.Current()); err != nil {
		return nil, err
	}
	topts := cfg.ToolOptions()
	topts.Readable = mcp.ReadableByAny(p.Engine, slices.Sorted(maps.Keys(cfg.PolicyOptions().Profiles)))
	tools, err := mcp.NewLiveTools(reloader.Current(), topts, logger, time.Now())
	if err != nil {
		return nil, err
	}
	opts.Tools, opts.Engine, opts.Identity, opts.Logger = tools, p.Engine, p.Identity, logger
	opts.Executor = Executor{X: proxy.NewExecutor(p.Pool, p.Engine, cfg.RLS.Setting), Slow: p.Slow}
	opts.OnStale = reloader.Trigger
	if p.Observers != nil {
		opts.OnCall = p.Observers.OnCall
		opts.Tracer = p.Observers.Tracer("mcp")
	}
	mu.Lock()
	d.Server, err = mcp.NewServer(opts)
	mu.Unlock()
	if err != nil {
		return nil, err
	}
	if p.Observers != nil {
		p.Observers.WatchMCP(d.Server.Stats)
	}
	d.reloader = reloader
	return d, nil
}

// Run keeps the tools in step with the schema until ctx ends.
func (d *Door) Run(ctx context.Context) error { return d.reloader.Run(ctx) }

// ReloadSchema re-reads the catalog now, for RELOAD and SIGHUP, and says
// what changed.
func (d *Door) ReloadSchema(ctx context.Context) (string, error) {
	diff, err := d.reloader.Reload(ctx)
	if err != nil {
		return "", err
	}
	if diff.Empty() {
		return "schema unchanged", nil
	}
	return strings.Join(diff.Lines(), "; "), nil
}

// ServerOptions turns the mcp section into server options, validating
// it: serve calls it before anything listens.
func ServerOptions(cfg *config.Config, version string) (mcp.ServerOptions, error) {
	m := cfg.MCP
	o := mcp.ServerOptions{
		Version:         version,
		MaxResultBytes:  m.MaxResultBytes,
		ResultCacheTTL:  m.ResultCache.TTL.D(),
		ResultCacheSize: m.ResultCache.Size,
	}
	switch m.DataWrapper {
	case "", "tags":
	case mcp.DataWrapperNone:
		o.DataWrapper = mcp.DataWrapperNone
	default:
		return o, fmt.Errorf("mcp.data_wrapper: %q is not tags or none", m.DataWrapper)
	}
	if m.MaxResultBytes < 0 || m.MaxRequestBytes < 0 || m.ResultCache.Size < 0 {
		return o, errors.New("mcp: max_result_bytes, max_request_bytes and result_cache.size cannot be negative")
	}
	if len(m.ResultCache.Tools) > 0 {
		o.ResultCacheTTLs = map[string]time.Duration{}
		for name, d := range m.ResultCache.Tools {
			o.ResultCacheTTLs[name] = d.D()
		}
	}
	if s := m.CursorSecret.Value(); s != "" {
		if len(s) < 32 {
			return o, errors.New("mcp.cursor_secret: use at least 32 characters")
		}
		o.CursorKey = []byte(s)
	}
	for _, p := range m.Prompts {
		ps := mcp.PromptSpec{Name: p.Name, Description: p.Description, Text: p.Text}
		for _, a := range p.Arguments {
			ps.Arguments = append(ps.Arguments, mcp.PromptArg{Name: a.Name, Description: a.Description, Required: a.Required})
		}
		o.Prompts = append(o.Prompts, ps)
	}
	return o, nil
}
