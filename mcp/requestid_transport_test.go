package mcp_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
	"go.uber.org/goleak"

	"github.com/pgmoat/pgmoat/mcp"
)

const spoofedCall = `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"q","_meta":{"pgmoat/request_id":"1"}}}`

func TestStampRequestIDsHTTP(t *testing.T) {
	var seen string
	h := mcp.StampRequestIDsHTTP(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			t.Error(err)
		}
		if r.ContentLength != int64(len(b)) {
			t.Errorf("Content-Length %d for a %d-byte body", r.ContentLength, len(b))
		}
		seen = string(b)
	}), 200)
	for _, tc := range []struct {
		name, method, body string
		status             int
		want               string // what the next handler reads
	}{
		{"a call is stamped", http.MethodPost, spoofedCall, 200, `"_meta":{"pgmoat/request_id":"7"}`},
		{"other messages pass as sent", http.MethodPost, `{"jsonrpc":"2.0","id":1,"method":"ping"}`, 200, `{"jsonrpc":"2.0","id":1,"method":"ping"}`},
		{"malformed bodies pass as sent", http.MethodPost, `{"method":"tools/call"`, 200, `{"method":"tools/call"`},
		{"a body over the cap is refused", http.MethodPost, `{"pad":"` + strings.Repeat("x", 200) + `"}`, http.StatusRequestEntityTooLarge, ""},
		{"a GET passes untouched", http.MethodGet, "", 200, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			seen = ""
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tc.method, "/mcp", strings.NewReader(tc.body)))
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.status, rec.Body)
			}
			if !strings.Contains(seen, tc.want) || (tc.want == "" && seen != "") {
				t.Errorf("next read %q, want %q", seen, tc.want)
			}
		})
	}
}

// readCall reads one message from c and returns its id and stamp.
func readCall(t *testing.T, c sdk.Connection) (id any, stamp any) {
	t.Helper()
	msg, err := c.Read(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	req, ok := msg.(*jsonrpc.Request)
	if !ok {
		t.Fatalf("read %T", msg)
	}
	var p sdk.CallToolParamsRaw
	if err := json.Unmarshal(req.Params, &p); err != nil {
		t.Fatal(err)
	}
	return req.ID.Raw(), p.Meta[mcp.MetaRequestID]
}

func TestStampRequestIDsOverStdio(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	in := spoofedCall + "\n" +
		`[{"jsonrpc":"2.0","id":"b1","method":"tools/call","params":{"name":"q"}},{"jsonrpc":"2.0","id":2,"method":"ping"}]` + "\r\n" +
		`{"jsonrpc":"2.0","method":"tools/call","params":{"name":"q","_meta":{"pgmoat/request_id":"3"}}}` + "\n"
	tr := mcp.StampRequestIDsTransport(&sdk.IOTransport{Reader: io.NopCloser(strings.NewReader(in)), Writer: nopCloser{io.Discard}})
	if _, ok := tr.(*sdk.IOTransport); !ok {
		t.Fatalf("an IOTransport became %T: the SDK's own connection must stay", tr)
	}
	c, err := tr.Connect(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, want := range [][2]any{{int64(7), "7"}, {"b1", `"b1"`}} {
		if id, stamp := readCall(t, c); id != want[0] || stamp != want[1] {
			t.Errorf("id %v stamped %v, want %v", id, stamp, want[1])
		}
	}
	if msg, err := c.Read(t.Context()); err != nil || msg.(*jsonrpc.Request).Method != "ping" {
		t.Fatalf("ping: %v %v", msg, err)
	}
	if id, stamp := readCall(t, c); id != nil || stamp != nil {
		t.Errorf("notification: id %v stamped %v, want neither", id, stamp)
	}
	if _, err := c.Read(t.Context()); err == nil {
		t.Error("read past the end")
	}
}

func TestStampRequestIDsRefusesWhatTheSDKRefuses(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	for name, tc := range map[string]struct {
		in    string
		limit int
	}{
		"trailing data":        {in: spoofedCall + ` x` + "\n"},
		"a frame over the cap": {in: spoofedCall + "\n", limit: 20},
	} {
		t.Run(name, func(t *testing.T) {
			tr := mcp.StampRequestIDsTransport(&sdk.IOTransport{Reader: io.NopCloser(strings.NewReader(tc.in)), Writer: nopCloser{io.Discard}, MaxLineLength: tc.limit})
			c, err := tr.Connect(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if msg, err := c.Read(t.Context()); err == nil {
				t.Fatalf("read %v", msg)
			}
		})
	}
}

func TestStampRequestIDsOverOtherTransports(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	client, server := sdk.NewInMemoryTransports()
	sc, err := mcp.StampRequestIDsTransport(server).Connect(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	cc, err := client.Connect(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	id, _ := jsonrpc.MakeID("abc")
	go func() {
		req := &jsonrpc.Request{ID: id, Method: "tools/call", Params: json.RawMessage(`{"name":"q","_meta":{"pgmoat/request_id":"1"}}`)}
		_ = cc.Write(t.Context(), req)
	}()
	if got, stamp := readCall(t, sc); got != "abc" || stamp != `"abc"` {
		t.Errorf("id %v stamped %v", got, stamp)
	}
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// A frame just under the limit stays readable once stamped, though the
// stamp (and a long id twice over) makes it longer than the limit.
func TestStampRequestIDsKeepsFramesUnderTheLimitReadable(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	id := `"` + strings.Repeat("r", 100) + `"`
	line := `{"jsonrpc":"2.0","id":` + id + `,"method":"tools/call","params":{"name":"q"}}`
	tr := mcp.StampRequestIDsTransport(&sdk.IOTransport{Reader: io.NopCloser(strings.NewReader(line + "\n")),
		Writer: nopCloser{io.Discard}, MaxLineLength: len(line) + 1})
	c, err := tr.Connect(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if gotID, stamp := readCall(t, c); gotID == nil || stamp != id {
		t.Fatalf("id %v, stamp %v; want the stamp %s", gotID, stamp, id)
	}
}
