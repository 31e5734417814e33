package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/pgmoat/pgmoat/cmd/pgmoat/mcpdoor"
	"github.com/pgmoat/pgmoat/cmd/pgmoat/telemetry"
)

// secretEmail is an argument value that must never reach the log.
const secretEmail = "request-id-probe@example.invalid"

// callBody is a raw tools/call of query_customers by email with JSON-RPC
// id id, carrying a forged request id in _meta.
func callBody(id string) string {
	return `{"jsonrpc":"2.0","id":` + id + `,"method":"tools/call","params":{"name":"query_customers",` +
		`"arguments":{"email":"` + secretEmail + `","limit":1},"_meta":{"pgmoat/request_id":"forged"}}}`
}

func initBody(version string) string {
	return `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"` + version +
		`","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`
}

const initializedBody = `{"jsonrpc":"2.0","method":"notifications/initialized"}`

// toolCallRecords are the "tool call" log records in log, by request_id.
func toolCallRecords(t *testing.T, log string) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for _, line := range strings.Split(strings.TrimSpace(log), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) != nil || rec["msg"] != "tool call" {
			continue
		}
		id, _ := rec["request_id"].(string)
		out[id] = rec
	}
	return out
}

// checkRecord: the record of the call with JSON-RPC id exists and carries
// the parameterized SQL, never the value.
func checkRecord(t *testing.T, recs map[string]map[string]any, id string) map[string]any {
	t.Helper()
	rec, ok := recs[id]
	if !ok {
		t.Fatalf("no tool call record with request_id %s; records: %v", id, recs)
	}
	sql, _ := rec["sql"].(string)
	if !strings.Contains(sql, "$1") || strings.Contains(sql, secretEmail) || !strings.Contains(sql, "customers") {
		t.Errorf("request %s: sql %q, want the parameterized statement", id, sql)
	}
	return rec
}

// mcpPost sends body on an HTTP MCP session and returns the response.
func mcpPost(t *testing.T, url, session, version string, header http.Header, body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Authorization", "Bearer alice-token")
	if session != "" {
		req.Header.Set("Mcp-Session-Id", session)
		req.Header.Set("Mcp-Protocol-Version", version)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode/100 != 2 {
		t.Fatalf("POST %.60s: %d %s", body, resp.StatusCode, b)
	}
	return resp, string(b)
}

// httpMCPSession initializes a raw HTTP session at version.
func httpMCPSession(t *testing.T, url, version string) string {
	t.Helper()
	resp, _ := mcpPost(t, url, "", version, nil, initBody(version))
	id := resp.Header.Get("Mcp-Session-Id")
	if id == "" {
		t.Fatal("no Mcp-Session-Id")
	}
	mcpPost(t, url, id, version, nil, initializedBody)
	return id
}

func TestToolCallLogCarriesTheRequestIDOverHTTP(t *testing.T) {
	t.Parallel()
	f := newShopFixture(t)
	var log lockedBuffer
	obs := telemetry.New(slog.New(slog.NewJSONHandler(&log, nil)))
	url := f.serveHTTP(t, f.cfg, obs)

	sid := httpMCPSession(t, url, "2025-06-18")
	_, out := mcpPost(t, url, sid, "2025-06-18", http.Header{"X-Request-Id": {"edge-42"}}, callBody("7"))
	if !strings.Contains(out, `"row_count"`) {
		t.Fatalf("tools/call answered %s", out)
	}
	mcpPost(t, url, sid, "2025-06-18", nil, callBody(`"abc"`))

	// Batches exist up to protocol 2025-03-26.
	old := httpMCPSession(t, url, "2025-03-26")
	_, out = mcpPost(t, url, old, "2025-03-26", nil, "["+callBody("11")+","+callBody(`"b12"`)+"]")
	if strings.Count(out, `"row_count`) != 2 {
		t.Fatalf("batch answered %s", out)
	}

	recs := toolCallRecords(t, log.String())
	rec := checkRecord(t, recs, "7")
	if rec["session_id"] != sid || rec["http_request_id"] != "edge-42" || rec["user_id"] != "1" {
		t.Errorf("record of request 7: %v (session %s)", rec, sid)
	}
	if rec := checkRecord(t, recs, `"abc"`); rec["session_id"] != sid {
		t.Errorf("record of request \"abc\": %v", rec)
	}
	for _, id := range []string{"11", `"b12"`} {
		if rec := checkRecord(t, recs, id); rec["session_id"] != old {
			t.Errorf("batched request %s: %v", id, rec)
		}
	}
	if _, forged := recs["forged"]; forged || len(recs) != 4 {
		t.Errorf("records by request_id: %v", recs)
	}
	if strings.Contains(log.String(), secretEmail) {
		t.Errorf("an argument value reached the log")
	}
}

// stdioClient speaks raw JSON-RPC lines to Server.Run over pipes.
type stdioClient struct {
	in   *io.PipeWriter
	out  *bufio.Reader
	done chan error
}

func startStdio(t *testing.T, st *mcpdoor.Door) *stdioClient {
	t.Helper()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	c := &stdioClient{in: inW, out: bufio.NewReader(outR), done: make(chan error, 1)}
	go func() {
		err := st.Server.Run(context.Background(), &sdk.IOTransport{Reader: inR, Writer: outW})
		outW.Close()
		c.done <- err
	}()
	t.Cleanup(func() {
		inW.Close()
		select {
		case <-c.done:
		case <-time.After(10 * time.Second):
			t.Error("the stdio session did not end")
		}
	})
	return c
}

// send writes one line and, when reply, returns the next line written back.
func (c *stdioClient) send(t *testing.T, line string, reply bool) string {
	t.Helper()
	if _, err := io.WriteString(c.in, line+"\n"); err != nil {
		t.Fatal(err)
	}
	if !reply {
		return ""
	}
	got, err := c.out.ReadString('\n')
	if err != nil {
		t.Fatalf("after %.60s: %v", line, err)
	}
	return got
}

func TestToolCallLogCarriesTheRequestIDOverStdio(t *testing.T) {
	t.Parallel()
	f := newShopFixture(t)
	var log lockedBuffer
	obs := telemetry.New(slog.New(slog.NewJSONHandler(&log, nil)))
	st, err := newMCPStack(t.Context(), f.cfg, f.engine, f.pool, discardLogger(), &bob, obs)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("single calls and a batch", func(t *testing.T) {
		c := startStdio(t, st)
		c.send(t, initBody("2025-03-26"), true)
		c.send(t, initializedBody, false)
		if out := c.send(t, callBody(`"s-1"`), true); !strings.Contains(out, `"row_count`) {
			t.Fatalf("tools/call answered %s", out)
		}
		if out := c.send(t, "["+callBody("21")+","+callBody("22")+"]", true); strings.Count(out, `"row_count`) != 2 {
			t.Fatalf("batch answered %s", out)
		}
		recs := toolCallRecords(t, log.String())
		for _, id := range []string{`"s-1"`, "21", "22"} {
			if rec := checkRecord(t, recs, id); rec["session_id"] != "" || rec["user_id"] != "2" {
				t.Errorf("request %s: %v", id, rec)
			}
		}
		if _, forged := recs["forged"]; forged {
			t.Error("the client's forged request id was logged")
		}
	})

	t.Run("the SDK still refuses batches from 2025-06-18 on", func(t *testing.T) {
		c := startStdio(t, st)
		c.send(t, initBody("2025-06-18"), true)
		c.send(t, initializedBody, false)
		c.send(t, "["+callBody("31")+"]", false)
		select {
		case err := <-c.done:
			c.done <- err // for the cleanup
			if err == nil || !strings.Contains(err.Error(), "batching") {
				t.Errorf("session ended with %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("a batch on a 2025-06-18 session was not refused")
		}
		if _, ran := toolCallRecords(t, log.String())["31"]; ran {
			t.Error("the refused batch ran")
		}
	})

	if strings.Contains(log.String(), secretEmail) {
		t.Errorf("an argument value reached the log")
	}
}
