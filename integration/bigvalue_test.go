package integration

import (
	"bufio"
	"bytes"
	"context"
	be "encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/pgmoat/pgmoat/integration/pgcluster"
	"github.com/pgmoat/pgmoat/integration/shop"
)

// bigValue is the size of each large text: the fault probe's 50 MB.
const bigValue = 50_000_000

// rssGrowthBound is what a run of huge values may add to pgmoat's
// resident set, peak included. Buffering each value whole costs at least
// its size per connection: 20 concurrent 50 MB rows took a buffering
// proxy from 160 MB to over 1 GB. Streaming them needs a read buffer per
// backend and a write buffer per client, a few MB in all; 64 MiB leaves
// room for the runtime and the allocator without letting a second copy
// of one value pass.
const rssGrowthBound = 64 << 20

// bigServer is a pgmoat serve process over a database whose docs table
// holds 50 MB texts.
type bigServer struct {
	cmd        *exec.Cmd
	proxy, mcp string
	db         string
	budget     int
}

func startBigServer(t *testing.T) *bigServer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	db := pgcluster.NewDatabase(t, cluster)
	if err := shop.Load(ctx, cluster.DSN(db), shop.Options{Scale: 1}); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, cluster.DSN(db))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	// Row 1 is small; rows 2 to 4 each hold a 50 MB body.
	for _, sql := range []string{
		"CREATE TABLE docs (id int PRIMARY KEY, title text NOT NULL, body text)",
		"ALTER TABLE docs OWNER TO " + shop.OwnerRole,
		"GRANT SELECT ON docs TO " + shop.ReaderRole,
		"INSERT INTO docs VALUES (1, 'small', 'hello')",
		fmt.Sprintf("INSERT INTO docs SELECT i, 'big ' || i, repeat('x', %d) FROM generate_series(2, 4) i", bigValue),
	} {
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	s := &bigServer{proxy: freePort(t), mcp: freePort(t), db: db, budget: 64 << 10}
	cfg := writeConfig(t, fmt.Sprintf(`backend:
  dsn: %q
  pool: {max: 25, max_per_identity: 25, acquire_timeout: 30s}
proxy:
  listen: %s
profiles:
  readonly: {statement_timeout: 60s}
users:
  alice: {password: alice, user_id: "1", profile: readonly}
mcp:
  listen: %s
  max_result_bytes: %d
  tokens:
    alice-token: {user_id: "1", profile: readonly}
`, cluster.DSNFor(shop.ReaderRole, shop.DefaultReaderPassword, db), s.proxy, s.mcp, s.budget))
	s.cmd = exec.Command(binary, "serve", "--config", cfg)
	s.cmd.Stderr = os.Stderr
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
	})
	for _, addr := range []string{s.proxy, s.mcp} {
		waitListening(t, addr)
	}
	return s
}

// waitListening waits until addr accepts connections.
func waitListening(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not listening after a minute: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// memory reads a /proc/<pid>/status field (VmRSS, VmHWM) in bytes.
func (s *bigServer) memory(t *testing.T, field string) int64 {
	t.Helper()
	status, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(s.cmd.Process.Pid), "status"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatalf("no %s in /proc status", field)
	return 0
}

// resetPeak makes VmHWM start again from the current resident set.
func (s *bigServer) resetPeak(t *testing.T) {
	t.Helper()
	path := filepath.Join("/proc", strconv.Itoa(s.cmd.Process.Pid), "clear_refs")
	if err := os.WriteFile(path, []byte("5"), 0); err != nil {
		t.Fatalf("reset the peak RSS: %v", err)
	}
}

// peakGrowth runs f and returns how far pgmoat's peak RSS rose above its
// resident set before f.
func (s *bigServer) peakGrowth(t *testing.T, f func()) (growth, before, after int64) {
	t.Helper()
	s.resetPeak(t)
	before = s.memory(t, "VmRSS")
	f()
	return s.memory(t, "VmHWM") - before, before, s.memory(t, "VmRSS")
}

func (s *bigServer) proxyDSN() string {
	return fmt.Sprintf("postgres://alice:alice@%s/%s?sslmode=disable", s.proxy, s.db)
}

// TestHugeValuesThroughTheProxyStream: 20 clients each reading a 50 MB
// value at once, and one 200 MB value, pass through pgmoat intact while
// its memory stays flat: rows are streamed, not buffered whole, and no
// ceiling below the server's own cuts a value off.
func TestHugeValuesThroughTheProxyStream(t *testing.T) {
	t.Parallel()
	s := startBigServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// Warm up: every backend of the pool opened, every buffer pool filled.
	warm(t, ctx, s.proxyDSN(), 20)

	growth, before, after := s.peakGrowth(t, func() {
		var wg sync.WaitGroup
		errs := make(chan error, 20)
		for range 20 {
			wg.Go(func() {
				errs <- streamValue(ctx, s.proxyDSN(), fmt.Sprintf("SELECT repeat('x', %d)", bigValue), bigValue)
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Error(err)
			}
		}
	})
	t.Logf("20 concurrent 50 MB values: RSS %d MB before, peak +%d MB, %d MB after", before>>20, growth>>20, after>>20)
	if growth > rssGrowthBound {
		t.Errorf("peak RSS grew by %d MB passing 20 × 50 MB values; bound %d MB", growth>>20, rssGrowthBound>>20)
	}
	if after-before > rssGrowthBound {
		t.Errorf("RSS stayed %d MB above where it was", (after-before)>>20)
	}

	// A 200 MB value, beyond the old 64 MiB message ceiling, through the
	// streaming client and through psql.
	growth, _, _ = s.peakGrowth(t, func() {
		if err := streamValue(ctx, s.proxyDSN(), "SELECT repeat('x', 200000000)", 200_000_000); err != nil {
			t.Error(err)
		}
		psqlValueLength(t, s, "SELECT repeat('x', 200000000)", 200_000_000)
	})
	t.Logf("200 MB value: peak RSS +%d MB", growth>>20)
	if growth > rssGrowthBound {
		t.Errorf("peak RSS grew by %d MB passing one 200 MB value; bound %d MB", growth>>20, rssGrowthBound>>20)
	}

	// pgx reads a 50 MB text from the table; the session and its
	// backend serve on.
	conn, err := pgx.Connect(ctx, s.proxyDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var body string
	if err := conn.QueryRow(ctx, "SELECT body FROM docs WHERE id = $1", 3).Scan(&body); err != nil {
		t.Fatal(err)
	}
	if len(body) != bigValue || strings.Count(body, "x") != bigValue {
		t.Fatalf("body of %d bytes", len(body))
	}
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM docs").Scan(&n); err != nil || n != 4 {
		t.Fatalf("after the big row: %d %v", n, err)
	}
}

// warm opens n sessions at once and runs a statement on each.
func warm(t *testing.T, ctx context.Context, dsn string, n int) {
	t.Helper()
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			if err := streamValue(ctx, dsn, "SELECT repeat('x', 100000)", 100000); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
}

// streamValue runs a one-row, one-column query over a real pgconn
// session and checks the value is want 'x' bytes, reading it from the
// socket piece by piece: the client holds none of it, so only pgmoat's
// memory is at stake.
func streamValue(ctx context.Context, dsn, sql string, want int) error {
	pc, err := pgconn.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	// pgconn may still have a read in flight on the socket after
	// connecting; SyncConn ends it, so no reply byte goes astray. It does
	// so with an empty statement, which pgmoat refuses (42501): the
	// refusal is a round trip all the same, and the next call finds the
	// connection synchronized.
	for try := 0; ; try++ {
		err := pc.SyncConn(ctx)
		var pgErr *pgconn.PgError
		if err == nil {
			break
		}
		if !errors.As(err, &pgErr) || try == 3 {
			pc.Close(ctx)
			return err
		}
	}
	hj, err := pc.Hijack()
	if err != nil {
		return err
	}
	defer hj.Conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = hj.Conn.SetDeadline(dl)
	}
	msg, err := (&pgproto3.Query{String: sql}).Encode(nil)
	if err != nil {
		return err
	}
	if _, err := hj.Conn.Write(msg); err != nil {
		return err
	}
	r := bufio.NewReaderSize(hj.Conn, 64<<10)
	rows := 0
	for {
		var hdr [5]byte
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return fmt.Errorf("%s: after %d rows: %w", sql, rows, err)
		}
		n := int(be.BigEndian.Uint32(hdr[1:])) - 4
		switch hdr[0] {
		case 'D':
			var head [6]byte
			if _, err := io.ReadFull(r, head[:]); err != nil {
				return err
			}
			size := int(int32(be.BigEndian.Uint32(head[2:])))
			if be.BigEndian.Uint16(head[:2]) != 1 || size != want || n != 6+size {
				return fmt.Errorf("%s: a row of %d bytes holding a value of %d, want %d", sql, n, size, want)
			}
			if err := allX(r, size); err != nil {
				return fmt.Errorf("%s: %w", sql, err)
			}
			rows++
		case 'E':
			body := make([]byte, n)
			_, _ = io.ReadFull(r, body)
			return fmt.Errorf("%s: error %q", sql, bytes.ReplaceAll(body, []byte{0}, []byte{' '}))
		case 'Z':
			if _, err := r.Discard(n); err != nil {
				return err
			}
			if rows != 1 {
				return fmt.Errorf("%s: %d rows", sql, rows)
			}
			return nil
		default:
			if _, err := r.Discard(n); err != nil {
				return err
			}
		}
	}
}

// allX reads n bytes from r and checks each is 'x'.
func allX(r *bufio.Reader, n int) error {
	for n > 0 {
		chunk, err := r.Peek(min(n, r.Size()))
		if len(chunk) == 0 && err != nil {
			return err
		}
		if bytes.Count(chunk, []byte{'x'}) != len(chunk) {
			return fmt.Errorf("the value is not intact")
		}
		_, _ = r.Discard(len(chunk))
		n -= len(chunk)
	}
	return nil
}

// psqlValueLength runs sql through psql and checks its output is want
// 'x' bytes and a newline.
func psqlValueLength(t *testing.T, s *bigServer, sql string, want int) {
	t.Helper()
	psql, err := exec.LookPath(filepath.Join(cluster.BinDir(), "psql"))
	if err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(s.proxy)
	cmd := exec.Command(psql, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", host, "-p", port, "-U", "alice", "-d", s.db, "-c", sql)
	cmd.Env = append(os.Environ(), "PGPASSWORD=alice", "PGSSLMODE=disable")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	got := allXCount(out)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("psql: %v: %s", err, stderr.String())
	}
	if got != want {
		t.Fatalf("psql printed %d 'x' bytes, want %d (%s)", got, want, stderr.String())
	}
}

// allXCount counts the 'x' bytes r delivers before its final newline;
// any other byte makes the count -1.
func allXCount(r io.Reader) int {
	buf := make([]byte, 64<<10)
	n, bad := 0, false
	for {
		k, err := r.Read(buf)
		chunk := bytes.TrimSuffix(buf[:k], []byte{'\n'})
		if bytes.Count(chunk, []byte{'x'}) != len(chunk) {
			bad = true
		}
		n += len(chunk)
		if err != nil {
			break
		}
	}
	if bad {
		return -1
	}
	return n
}

// TestHugeRowsThroughMCPStayWithinTheBudget: a tool call over rows of
// 50 MB texts answers within mcp.max_result_bytes — the small row with
// truncated and a cursor, then a refusal that names the column to leave
// out, then the rows without it — and pgmoat never holds the texts.
func TestHugeRowsThroughMCPStayWithinTheBudget(t *testing.T) {
	t.Parallel()
	s := startBigServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	hc := &http.Client{Transport: bearer{token: "alice-token", base: http.DefaultTransport}}
	client := sdk.NewClient(&sdk.Implementation{Name: "bigrow-test", Version: "1"}, nil)
	cs, err := client.Connect(ctx, &sdk.StreamableClientTransport{Endpoint: "http://" + s.mcp + "/mcp", HTTPClient: hc}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	call := func(args map[string]any) (*sdk.CallToolResult, string) {
		res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: "query_docs", Arguments: args})
		if err != nil {
			t.Fatalf("query_docs %v: %v", args, err)
		}
		text := res.Content[0].(*sdk.TextContent).Text
		if len(text) > s.budget+1024 {
			t.Errorf("query_docs %v: %d bytes of text over a %d-byte budget", args, len(text), s.budget)
		}
		return res, text
	}
	_, _ = call(map[string]any{"columns": []string{"id"}}) // warm up

	var growth, before, after int64
	growth, before, after = s.peakGrowth(t, func() {
		res, text := call(map[string]any{"order_by": "id asc"})
		var page struct {
			Rows       []map[string]any `json:"rows"`
			Truncated  bool             `json:"truncated"`
			NextCursor string           `json:"next_cursor"`
		}
		b, _ := json.Marshal(res.StructuredContent)
		_ = json.Unmarshal(b, &page)
		if res.IsError || len(page.Rows) != 1 || page.Rows[0]["body"] != "hello" || !page.Truncated || page.NextCursor == "" {
			t.Fatalf("first page: error %v, %d rows, truncated %v: %.300s", res.IsError, len(page.Rows), page.Truncated, text)
		}
		res, text = call(map[string]any{"order_by": "id asc", "cursor": page.NextCursor})
		if !res.IsError || !strings.Contains(text, "column body holds 50000000 bytes") || !strings.Contains(text, `columns: ["id", "title"]`) {
			t.Fatalf("the 50 MB row: error %v: %.500s", res.IsError, text)
		}
		// Four at once, as the fault probe did.
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: "query_docs", Arguments: map[string]any{"id": 3}})
				if err != nil || !res.IsError {
					t.Errorf("concurrent call: %v %+v", err, res)
				}
			})
		}
		wg.Wait()
		res, text = call(map[string]any{"columns": []string{"id", "title"}})
		if res.IsError || !strings.Contains(text, `"title":"big 4"`) {
			t.Fatalf("without body: %.500s", text)
		}
	})
	t.Logf("MCP calls over 50 MB rows: RSS %d MB before, peak +%d MB, %d MB after", before>>20, growth>>20, after>>20)
	if growth > rssGrowthBound {
		t.Errorf("peak RSS grew by %d MB answering calls over 50 MB rows; bound %d MB", growth>>20, rssGrowthBound>>20)
	}
}
