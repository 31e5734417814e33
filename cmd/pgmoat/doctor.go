package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgmoat/pgmoat/cmd/pgmoat/config"
	"github.com/pgmoat/pgmoat/introspect"
	"github.com/pgmoat/pgmoat/mcp"
	"github.com/pgmoat/pgmoat/proxy"
)

func runDoctor(e env, args []string) int {
	fs := newFlags("doctor", e.stderr)
	path := configFlag(fs, "")
	if code, ok := parseOrHelp(fs, args); !ok {
		return code
	}
	cfg, code := loadBackendConfig("doctor", *path, "", e.stderr)
	if cfg == nil {
		return code
	}
	report, err := checkBackendRole(e.ctx, cfg)
	if err != nil {
		fmt.Fprintf(e.stderr, "pgmoat doctor: %s\n", config.RedactDSN(err.Error()))
		return exitUsage
	}
	filters, err := filterIndexFindings(e.ctx, cfg)
	if err != nil {
		fmt.Fprintf(e.stderr, "pgmoat doctor: %s\n", config.RedactDSN(err.Error()))
		return exitUsage
	}
	report.Findings = append(report.Findings, filters...)
	tools, err := toolFindings(e.ctx, cfg)
	if err != nil {
		fmt.Fprintf(e.stderr, "pgmoat doctor: %s\n", config.RedactDSN(err.Error()))
		return exitUsage
	}
	report.Findings = append(report.Findings, tools...)
	if authOpts, err := cfg.MCPAuthOptions(nil); err == nil {
		report.Findings = append(report.Findings, mcp.CheckProvider(e.ctx, authOpts)...)
	}
	printReport(e.stdout, report)
	if len(report.Unsafe()) > 0 {
		return exitNo
	}
	return exitOK
}

// checkBackendRole connects as the configured role and runs the checklist:
// the backend pool's own role check (what makes every door refuse the
// role), then the schema checks.
func checkBackendRole(ctx context.Context, cfg *config.Config) (*introspect.SafetyReport, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	dsn := cfg.Backend.DSN.Value()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("cannot connect to the backend (%s): %s; check backend.dsn, the password and that PostgreSQL is running",
			config.RedactDSN(dsn), config.RedactDSN(err.Error()))
	}
	defer conn.Close(context.Background())
	guard, err := proxy.CheckBackendRole(ctx, conn.PgConn())
	if err != nil {
		return nil, err
	}
	report, err := introspect.CheckRole(ctx, conn, introspect.SafetyOptions{RLSSetting: cfg.RLS.Setting})
	if err != nil {
		return nil, err
	}
	findings := report.Findings[:1:1] // server.version first
	for _, f := range guard.Findings {
		sev := introspect.Note
		if f.Unsafe {
			sev = introspect.Unsafe
		}
		findings = append(findings, introspect.Finding{Check: f.Check, Severity: sev, Message: f.Message})
	}
	report.Findings = append(findings, report.Findings[1:]...)
	return report, nil
}

// filterIndexFindings reads the schema as the backend role and checks the
// filter columns mcp.tools names for an index (doctor only: serve's
// start-up check is about the role's safety).
func filterIndexFindings(ctx context.Context, cfg *config.Config) ([]introspect.Finding, error) {
	if len(configuredFilters(cfg.MCP.Tools)) == 0 {
		return nil, nil
	}
	snap, err := readSchema(ctx, cfg, "the filter-index check")
	if err != nil {
		return nil, err
	}
	return checkFilterIndexes(snap, cfg.MCP.Tools), nil
}

// readSchema reads the catalog as the backend role, for one doctor check.
func readSchema(ctx context.Context, cfg *config.Config, check string) (*introspect.Snapshot, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, cfg.Backend.DSN.Value())
	if err != nil {
		return nil, fmt.Errorf("cannot connect to the backend: %s", config.RedactDSN(err.Error()))
	}
	defer conn.Close(context.Background())
	snap, err := introspect.Load(ctx, conn)
	if err != nil {
		return nil, fmt.Errorf("reading the schema for %s: %w", check, err)
	}
	return snap, nil
}

// toolFindings says, per profile, which relations get no MCP tool and why
// (no USAGE on the schema, no SELECT, or the policy refuses the tool's
// statement).
func toolFindings(ctx context.Context, cfg *config.Config) ([]introspect.Finding, error) {
	snap, err := readSchema(ctx, cfg, "the tool check")
	if err != nil {
		return nil, err
	}
	var out []introspect.Finding
	for _, profile := range sortedProfiles(cfg) {
		set, left, err := admittedTools(cfg, snap, profile)
		if err != nil {
			return nil, err
		}
		if len(left) == 0 {
			out = append(out, introspect.Finding{Check: "tools." + profile, Severity: introspect.Note,
				Message: fmt.Sprintf("profile %s: %d tools, no relation left out", profile, len(set.Tables)+len(set.Entities))})
			continue
		}
		why := make([]string, len(left))
		for i, l := range left {
			why[i] = l.Relation.String() + " (" + l.Reason + ")"
		}
		out = append(out, introspect.Finding{Check: "tools." + profile, Severity: introspect.Warning,
			Message: fmt.Sprintf("profile %s: %d relation(s) get no MCP tool: %s", profile, len(left), strings.Join(why, "; "))})
	}
	return out, nil
}

func sortedProfiles(cfg *config.Config) []string {
	names := make([]string, 0, len(cfg.Profiles))
	for name := range cfg.Profiles {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

func printReport(w io.Writer, r *introspect.SafetyReport) {
	mark := map[introspect.Severity]string{introspect.Note: "[ok]  ", introspect.Warning: "[warn]", introspect.Unsafe: "[FAIL]"}
	for _, f := range r.Findings {
		fmt.Fprintf(w, "%s %-28s %s\n", mark[f.Severity], f.Check, f.Message)
	}
	if u := r.Unsafe(); len(u) > 0 {
		ids := make([]string, len(u))
		for i, f := range u {
			ids[i] = f.Check
		}
		fmt.Fprintf(w, "\nVerdict: UNSAFE — role %q must not be pgmoat's backend role (%s).\n", r.Role, strings.Join(ids, ", "))
		fmt.Fprintln(w, "Use a role that can only SELECT, is not superuser or BYPASSRLS, owns nothing and can create nothing.")
		return
	}
	fmt.Fprintf(w, "\nVerdict: OK — role %q can only read, and row-level security applies to it.\n", r.Role)
}
