package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/pgmoat/pgmoat/cmd/pgmoat/config"
	"github.com/pgmoat/pgmoat/cmd/pgmoat/mcpdoor"
	"github.com/pgmoat/pgmoat/integration/pgcluster"
	"github.com/pgmoat/pgmoat/integration/shop"
	"github.com/pgmoat/pgmoat/mcp"
	"github.com/pgmoat/pgmoat/policy"
	"github.com/pgmoat/pgmoat/proxy"
)

// shopFixture is a database of its own with the shop loaded (a copy of
// the package's template, in the shared cluster) and pgmoat's engine and
// pool over it, as `pgmoat demo` sets them up.
type shopFixture struct {
	cluster  *pgcluster.Cluster
	db       string
	superDSN string
	cfg      *config.Config
	engine   *policy.Engine
	pool     *proxy.Pool
}

var (
	alice = policy.Identity{UserID: "1", Profile: "readonly"}
	bob   = policy.Identity{UserID: "2", Profile: "readonly"}
)

func newShopFixture(t *testing.T) *shopFixture {
	t.Helper()
	c := loadedCluster(t)
	db := pgcluster.NewDatabaseFrom(t, c, shopTemplate)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cfg := config.Demo(c.DSNFor(shop.ReaderRole, shop.DefaultReaderPassword, db))
	engine, err := policy.New(cfg.PolicyOptions())
	if err != nil {
		t.Fatal(err)
	}
	pool, err := newBackendPool(ctx, cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return &shopFixture{cluster: c, db: db, superDSN: c.DSN(db), cfg: cfg, engine: engine, pool: pool}
}

// superExec runs SQL as the superuser, outside pgmoat.
func (f *shopFixture) superExec(t *testing.T, sql string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, f.superDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql, pgx.QueryExecModeSimpleProtocol); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// superCount counts rows as a given manager sees them, outside pgmoat.
func (f *shopFixture) superCount(t *testing.T, userID, query string) int {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, f.cluster.DSNFor(shop.ReaderRole, shop.DefaultReaderPassword, f.db))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if _, err := conn.Exec(ctx, "SELECT set_config('request.user_id', $1, false)", userID); err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRow(ctx, query).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// session is one MCP client connected in memory to a fresh server
// running as id.
type session struct {
	cs      *sdk.ClientSession
	stack   *mcpdoor.Door
	changed chan struct{}
}

func (f *shopFixture) connect(t *testing.T, cfg *config.Config, id policy.Identity) *session {
	t.Helper()
	ctx := context.Background()
	st, err := newMCPStack(ctx, cfg, f.engine, f.pool, discardLogger(), &id, nil)
	if err != nil {
		t.Fatal(err)
	}
	return connectStack(t, st)
}

func connectStack(t *testing.T, st *mcpdoor.Door) *session {
	t.Helper()
	ctx := context.Background()
	ct, stt := sdk.NewInMemoryTransports()
	ss, err := st.Server.SDK().Connect(ctx, stt, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := &session{stack: st, changed: make(chan struct{}, 16)}
	client := sdk.NewClient(&sdk.Implementation{Name: "pgmoat-test", Version: "1"}, &sdk.ClientOptions{
		ToolListChangedHandler: func(context.Context, *sdk.ToolListChangedRequest) {
			select {
			case s.changed <- struct{}{}:
			default:
			}
		},
	})
	s.cs, err = client.Connect(ctx, ct, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = s.cs.Close()
		_ = ss.Wait()
	})
	return s
}

// call calls a tool; protocol errors fail the test, tool errors do not.
func (s *session) call(t *testing.T, tool string, args map[string]any) *sdk.CallToolResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := s.cs.CallTool(ctx, &sdk.CallToolParams{Name: tool, Arguments: args})
	if err != nil {
		t.Fatalf("%s(%v): protocol error: %v", tool, args, err)
	}
	return res
}

// rows calls a tool that must succeed and decodes its structured result.
func (s *session) rows(t *testing.T, tool string, args map[string]any) mcp.Result {
	t.Helper()
	res := s.call(t, tool, args)
	if res.IsError {
		t.Fatalf("%s(%v): %s", tool, args, text(res))
	}
	return decodeResult(t, res)
}

func decodeResult(t *testing.T, res *sdk.CallToolResult) mcp.Result {
	t.Helper()
	b, err := json.Marshal(res.StructuredContent)
	if err != nil {
		t.Fatal(err)
	}
	var r mcp.Result
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("structured content %s: %v", b, err)
	}
	if r.RowCount != len(r.Rows) {
		t.Fatalf("row_count %d but %d rows", r.RowCount, len(r.Rows))
	}
	return r
}

// toolError calls a tool that must fail as a tool result and returns
// its message.
func (s *session) toolError(t *testing.T, tool string, args map[string]any) string {
	t.Helper()
	res := s.call(t, tool, args)
	if !res.IsError {
		t.Fatalf("%s(%v) succeeded; want a tool error", tool, args)
	}
	return text(res)
}

func text(res *sdk.CallToolResult) string {
	var parts []string
	for _, c := range res.Content {
		if tc, ok := c.(*sdk.TextContent); ok {
			parts = append(parts, tc.Text)
		}
	}
	return strings.Join(parts, "\n")
}

func ids(t *testing.T, r mcp.Result, col string) []int64 {
	t.Helper()
	var out []int64
	for _, row := range r.Rows {
		n, ok := row[col].(float64)
		if !ok {
			t.Fatalf("%s = %#v", col, row[col])
		}
		out = append(out, int64(n))
	}
	return out
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// walk pages through a tool with cursor until the last page and returns
// every row.
func (s *session) walk(t *testing.T, tool string, args map[string]any) (rows []map[string]any, pages int) {
	t.Helper()
	for {
		r := s.rows(t, tool, args)
		rows = append(rows, r.Rows...)
		pages++
		if !r.Truncated {
			if r.NextCursor != "" {
				t.Fatalf("page %d: next_cursor on the last page", pages)
			}
			return rows, pages
		}
		if r.NextCursor == "" {
			t.Fatalf("page %d truncated without next_cursor", pages)
		}
		next := map[string]any{}
		for k, v := range args {
			next[k] = v
		}
		next["cursor"] = r.NextCursor
		args = next
		if pages > 1000 {
			t.Fatal("cursor walk does not end")
		}
	}
}
