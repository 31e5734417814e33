package mcp_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/pgmoat/pgmoat/introspect"
	"github.com/pgmoat/pgmoat/mcp"
	"github.com/pgmoat/pgmoat/policy"
)

// pageRows is the page the benchmarks return: the size of a typical
// indexed lookup.
const pageRows = 50

// pageExecutor is an Executor that answers every statement with the same
// pageRows rows, made once per statement text: the MCP path can be
// measured and profiled without PostgreSQL.
type pageExecutor struct {
	mu    sync.Mutex
	pages map[string]*mcp.Rows
}

func (x *pageExecutor) Query(_ context.Context, _ policy.Identity, _ int, sql string, _ ...any) (*mcp.Rows, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if r, ok := x.pages[sql]; ok {
		return r, nil
	}
	if x.pages == nil {
		x.pages = map[string]*mcp.Rows{}
	}
	r := fakePage(selectList(sql), pageRows)
	x.pages[sql] = r
	return r, nil
}

// fakePage makes n rows of the orders table's columns, values as pgx
// decodes them.
func fakePage(cols []string, n int) *mcp.Rows {
	r := &mcp.Rows{Columns: cols}
	base := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	for i := range n {
		row := make([]any, len(cols))
		for j, c := range cols {
			switch c {
			case "id":
				row[j] = int64(100000 + i)
			case "customer_id":
				row[j] = int32(7)
			case "status":
				row[j] = []string{"pending", "paid", "shipped"}[i%3]
			case "total_amount":
				row[j] = fmt.Sprintf("%d.%02d", 10+i*3, i%100)
			case "created_at":
				row[j] = base.Add(-time.Duration(i) * time.Hour)
			case "note":
				row[j] = "Leave at the door, ring twice <b>please</b> " + strings.Repeat("x", i%9)
			}
		}
		r.Values = append(r.Values, row)
	}
	return r
}

// benchOrders is the shop's orders table as the benchmark's schema.
func benchOrders() *introspect.Snapshot {
	status := enumType("order_status", "pending", "paid", "shipped")
	orders := withPK(table("public", "orders",
		col("id", pgType("int8"), true), col("customer_id", pgType("int4"), true), col("status", status, true),
		col("total_amount", pgType("numeric"), true), col("created_at", pgType("timestamptz"), true),
		col("note", pgType("text"), false)), "id")
	orders.Comment = "One row per order."
	orders.Indexes = append(orders.Indexes, index("orders_customer_idx", "btree", "customer_id"),
		index("orders_created_idx", "btree", "created_at"))
	return snapshot(orders)
}

func benchServer(b testing.TB) *mcp.Server {
	b.Helper()
	return pageServer(b, nil)
}

// pageServer is a server over benchOrders and a pageExecutor; key signs
// its cursors (nil: a random key).
func pageServer(b testing.TB, key []byte) *mcp.Server {
	b.Helper()
	engine, err := policy.New(policy.Options{})
	if err != nil {
		b.Fatal(err)
	}
	live, err := mcp.NewLiveTools(benchOrders(), mcp.GenerateOptions{}, nil, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	s, err := mcp.NewServer(mcp.ServerOptions{Tools: live, Engine: engine, Executor: &pageExecutor{},
		Identity: &policy.Identity{UserID: "7", Profile: "readonly"}, CursorKey: key})
	if err != nil {
		b.Fatal(err)
	}
	return s
}

const benchArgs = `{"customer_id":7,"order_by":"created_at desc","limit":50}`

// BenchmarkToolCall is one tools/call end to end: arguments validated,
// statement planned (cached after the first call) and checked, the fake
// executor's 50 rows shaped, budgeted, framed and encoded, the JSON-RPC
// response written. "wire" drives the server with raw JSON-RPC lines over
// an in-memory pipe, so what it measures is the server; "sdk" uses the
// SDK's client over its in-memory transport, so it counts both ends.
// cpu-µs/op is the process's CPU time (every thread, GC included) per call.
func BenchmarkToolCall(b *testing.B) {
	b.Run("wire", func(b *testing.B) {
		c := newWireClient(b, benchServer(b))
		b.ReportAllocs()
		cpu := cpuTime()
		for b.Loop() {
			c.call(b)
		}
		reportCPU(b, cpu)
	})
	b.Run("sdk", func(b *testing.B) {
		s := benchServer(b)
		ct, st := sdk.NewInMemoryTransports()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- s.Run(ctx, st) }()
		b.Cleanup(func() { cancel(); <-done })
		cs, err := sdk.NewClient(&sdk.Implementation{Name: "bench", Version: "1"}, nil).Connect(ctx, ct, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = cs.Close() })
		params := &sdk.CallToolParams{Name: "query_orders",
			Arguments: map[string]any{"customer_id": 7, "order_by": "created_at desc", "limit": 50}}
		b.ReportAllocs()
		cpu := cpuTime()
		for b.Loop() {
			res, err := cs.CallTool(ctx, params)
			if err != nil || res.IsError {
				b.Fatalf("call: %v %v", err, res)
			}
		}
		reportCPU(b, cpu)
	})
}

// wireClient speaks newline-delimited JSON-RPC to a server over a pipe
// and reads answers as bytes, decoding nothing on the hot path.
type wireClient struct {
	conn net.Conn
	r    *bufio.Reader
	id   int
}

func newWireClient(b *testing.B, s *mcp.Server) *wireClient {
	b.Helper()
	server, client := net.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, &sdk.IOTransport{Reader: server, Writer: server}) }()
	b.Cleanup(func() { client.Close(); cancel(); <-done })
	c := &wireClient{conn: client, r: bufio.NewReaderSize(client, 1<<20)}
	c.send(b, `{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}}`)
	if line := c.line(b); !strings.Contains(line, `"protocolVersion"`) {
		b.Fatalf("initialize: %s", line)
	}
	c.send(b, `{"jsonrpc":"2.0","method":"notifications/initialized","params":{}}`)
	return c
}

func (c *wireClient) send(b *testing.B, msg string) {
	if _, err := c.conn.Write([]byte(msg + "\n")); err != nil {
		b.Fatal(err)
	}
}

func (c *wireClient) line(b *testing.B) string {
	line, err := c.r.ReadSlice('\n')
	if err != nil {
		b.Fatal(err)
	}
	return string(line)
}

// call sends one tools/call and checks that its answer is a page of rows.
func (c *wireClient) call(b *testing.B) {
	c.id++
	c.send(b, `{"jsonrpc":"2.0","id":`+itoa(c.id)+`,"method":"tools/call","params":{"name":"query_orders","arguments":`+benchArgs+`}}`)
	line, err := c.r.ReadSlice('\n')
	if err != nil {
		b.Fatal(err)
	}
	if len(line) < 1000 || strings.Contains(string(line[:min(len(line), 200)]), `"isError":true`) {
		b.Fatalf("call %d: %s", c.id, line)
	}
}

// cpuTime is the process's user plus system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64((cpuTime()-start).Microseconds())/float64(b.N), "cpu-µs/op")
}
