package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgmoat/pgmoat/introspect/schemagen"
)

// introspection is scenario 5: snapshot and tool generation time for
// synthetic schemas of the configured sizes, and the tokens of the
// tools/list each gets by default.
func (e *env) introspection(ctx context.Context) {
	if e.introBin == "" {
		e.rep.skip(scIntrospect, "", "the introspection timer did not build (introspect or mcp not ready): %v", e.introBuildErr)
		e.say("  skipped: %v", e.introBuildErr)
		return
	}
	for _, n := range e.o.tables {
		if ctx.Err() != nil {
			return
		}
		e.step("introspection: %d tables", n)
		r := e.introspectOne(ctx, n)
		if r.Error != "" {
			e.say("      failed: %s", r.Error)
		} else {
			e.say("      snapshot %.1f ms, tool generation %.1f ms, %d tools listed", float64(r.SnapshotMs), float64(r.GenerateMs), r.Tools)
		}
		e.rep.Introspection = append(e.rep.Introspection, r)
	}
}

func (e *env) introspectOne(ctx context.Context, n int) introResult {
	res := introResult{Tables: n, SnapshotMs: nan, GenerateMs: nan, ListedTokens: nan}
	db := fmt.Sprintf("schema_%d", n)
	if err := e.cluster.CreateDatabase(ctx, db); err != nil {
		res.Error = err.Error()
		return res
	}
	defer func() { _ = e.cluster.DropDatabase(context.Background(), db) }()
	start := time.Now()
	if err := e.execScript(ctx, db, schemagen.DDL(n, schemagen.Options{})); err != nil {
		res.Error = fmt.Sprintf("create %d tables: %v", n, err)
		return res
	}
	e.say("      created %d tables in %s", n, time.Since(start).Round(time.Millisecond))
	toolsFile := filepath.Join(e.tmp, fmt.Sprintf("tools-list-%d-tables.json", n))
	cmd := exec.CommandContext(ctx, e.introBin, "-dsn", e.cluster.DSN(db), "-reps", "3", "-tools-out", toolsFile)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		res.Error = fmt.Sprintf("%v: %s", err, truncate(strings.TrimSpace(stderr.String()), 300))
		return res
	}
	var out struct {
		SnapshotMs float64 `json:"snapshot_ms"`
		GenerateMs float64 `json:"generate_ms"`
		Tools      int     `json:"tools"`
		TableTools int     `json:"table_tools_listed"`
		Discovery  bool    `json:"discovery_mode"`
		Estimated  int     `json:"estimated_tokens"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		res.Error = fmt.Sprintf("read timer output: %v", err)
		return res
	}
	res.SnapshotMs, res.GenerateMs, res.Tools, res.Discovery = num(out.SnapshotMs), num(out.GenerateMs), out.Tools, out.Discovery
	res.TableTools, res.EstimatedTokens = out.TableTools, out.Estimated
	if c, err := e.countTokens(ctx, toolsFile); err != nil {
		res.TokenError = err.Error()
	} else {
		res.ListedTokens, res.Tokenizer = num(c.Total.Tokens), c.Tokenizer
	}
	return res
}

// execScript runs a multi-statement script as one simple Query.
func (e *env) execScript(ctx context.Context, db, script string) error {
	conn, err := pgx.Connect(ctx, e.cluster.DSN(db))
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close(context.Background()) }()
	_, err = conn.PgConn().Exec(ctx, script).ReadAll()
	return err
}
