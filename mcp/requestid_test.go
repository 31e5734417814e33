package mcp_test

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
	segjson "github.com/segmentio/encoding/json"

	"github.com/pgmoat/pgmoat/mcp"
)

// sdkView decodes a payload the way the SDK does (its own message decoder,
// case-sensitive params) and returns, per tools/call request in it, the
// request's id and the stamp the handler will read ("<absent>" when there
// is none). Requests the SDK refuses before any handler runs (undecodable,
// no tool name) are skipped.
func sdkView(t testing.TB, body []byte) (ids, stamps []string) {
	t.Helper()
	var raws []json.RawMessage
	if segjson.Unmarshal(body, &raws) != nil {
		raws = []json.RawMessage{body}
	}
	for _, raw := range raws {
		msg, err := jsonrpc.DecodeMessage(raw)
		if err != nil {
			continue
		}
		req, ok := msg.(*jsonrpc.Request)
		if !ok || req.Method != "tools/call" {
			continue
		}
		var p sdk.CallToolParamsRaw
		dec := segjson.NewDecoder(bytes.NewReader(req.Params))
		dec.DontMatchCaseInsensitiveStructFields()
		if req.Params != nil && dec.Decode(&p) != nil || p.Name == "" {
			continue // refused before a handler: no tool has no name
		}
		stamp := "<absent>"
		if v, ok := p.Meta[mcp.MetaRequestID]; ok {
			s, isString := v.(string)
			if !isString {
				s = "<not a string>"
			}
			stamp = s
		}
		ids, stamps = append(ids, wantStamp(req.ID)), append(stamps, stamp)
	}
	return ids, stamps
}

// wantStamp is what a request with id must carry.
func wantStamp(id jsonrpc.ID) string {
	switch v := id.Raw().(type) {
	case int64:
		return strconv.FormatInt(v, 10)
	case string:
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(v)
		return strings.TrimSuffix(b.String(), "\n")
	}
	return "<absent>"
}

func TestStampRequestIDs(t *testing.T) {
	call := func(id, params string) string {
		s := `{"jsonrpc":"2.0","method":"tools/call","params":` + params
		if id != "" {
			s += `,"id":` + id
		}
		return s + "}"
	}
	args := `{"name":"query_orders","arguments":{"status":"<paid & open>"}}`
	for _, tc := range []struct {
		name   string
		body   string
		stamps []string // per tools/call, as the handler reads it
		same   bool     // the body must come back byte for byte
	}{
		{name: "number id", body: call("7", args), stamps: []string{"7"}},
		{name: "string id", body: call(`"abc"`, args), stamps: []string{`"abc"`}},
		{name: "fractional id as the SDK reads it", body: call("7.0", args), stamps: []string{"7"}},
		{name: "client stamp overwritten", body: call("7", `{"name":"q","_meta":{"pgmoat/request_id":"999","traceparent":"00-x"}}`), stamps: []string{"7"}},
		{name: "null _meta", body: call("8", `{"name":"q","_meta":null}`), stamps: []string{"8"}},
		{name: "escaped method", body: `{"jsonrpc":"2.0","id":3,"method":"tools\/call","params":{"name":"q"}}`, stamps: []string{"3"}},
		{name: "batch", body: "[" + call("1", args) + `,{"jsonrpc":"2.0","id":2,"method":"ping"},` + call(`"x"`, `{"name":"q","_meta":{"pgmoat/request_id":"1"}}`) + "]",
			stamps: []string{"1", `"x"`}},
		{name: "notification loses a client stamp", body: call("", `{"name":"q","_meta":{"pgmoat/request_id":"7"}}`), stamps: []string{"<absent>"}},
		{name: "null id loses a client stamp", body: call("null", `{"name":"q","_meta":{"pgmoat/request_id":"7"}}`), stamps: []string{"<absent>"}},
		{name: "notification without a stamp", body: call("", args), stamps: []string{"<absent>"}, same: true},
		{name: "other method", body: `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":{"pgmoat/request_id":"x"}}}`, same: true},
		{name: "initialize", body: `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18"}}`, same: true},
		{name: "response", body: `{"jsonrpc":"2.0","id":1,"result":{"method":"tools/call"}}`, same: true},
		{name: "malformed", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{`, same: true},
		{name: "malformed batch", body: `[{"jsonrpc":"2.0","id":1,"method":"tools/call"},`, same: true},
		{name: "params not an object", body: call("1", `[1,2]`), same: true},
		{name: "_meta not an object", body: call("1", `{"name":"q","_meta":"x"}`), same: true},
		{name: "duplicate method: the last one counts", body: `{"jsonrpc":"2.0","id":4,"method":"ping","method":"tools/call","params":{"name":"q"}}`, stamps: []string{"4"}},
		{name: "case variant of _meta is not _meta", body: call("5", `{"name":"q","_META":{"pgmoat/request_id":"1"}}`), stamps: []string{"5"}},
		{name: "_meta in an argument's text", body: call("6", `{"name":"q","arguments":{"note":"_meta","n":{"_meta":{"pgmoat/request_id":"1"}}}}`), stamps: []string{"6"}},
		{name: "escaped _meta key overwritten", body: call("10", `{"name":"q","\u005fmeta":{"pgmoat/request_id":"1"}}`), stamps: []string{"10"}},
		{name: "spaces in params", body: call("11", " { \"name\" : \"q\" } "), stamps: []string{"11"}},
		{name: "string id with a quote", body: call(`"a\"b"`, args), stamps: []string{`"a\"b"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := mcp.StampRequestIDs([]byte(tc.body))
			if tc.same && string(out) != tc.body {
				t.Fatalf("changed:\n in %s\nout %s", tc.body, out)
			}
			ids, stamps := sdkView(t, out)
			if strings.Join(stamps, " ") != strings.Join(tc.stamps, " ") {
				t.Fatalf("stamps %q, want %q (ids %q)\nout %s", stamps, tc.stamps, ids, out)
			}
			if !tc.same && strings.Contains(tc.body, "<paid & open>") && !strings.Contains(string(out), "<paid & open>") {
				t.Errorf("argument text changed: %s", out)
			}
		})
	}
}

func TestStampRequestIDsKeepsTheRestOfTheCall(t *testing.T) {
	in := `{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"query_orders","arguments":{"limit":5,"status":"paid"},"_meta":{"traceparent":"00-abc-def-01","progressToken":3}}}`
	out := mcp.StampRequestIDs([]byte(in))
	msg, err := jsonrpc.DecodeMessage(out)
	if err != nil {
		t.Fatal(err)
	}
	req := msg.(*jsonrpc.Request)
	var p sdk.CallToolParamsRaw
	if err := json.Unmarshal(req.Params, &p); err != nil {
		t.Fatal(err)
	}
	if req.ID.Raw() != int64(9) || p.Name != "query_orders" || string(p.Arguments) != `{"limit":5,"status":"paid"}` ||
		p.Meta["traceparent"] != "00-abc-def-01" || p.Meta["progressToken"] != 3.0 || p.Meta[mcp.MetaRequestID] != "9" {
		t.Fatalf("stamped call: id %v, params %+v", req.ID.Raw(), p)
	}
}

// FuzzStampRequestIDs: whatever the body, every tools/call the SDK would
// hand a handler carries exactly its own id (or none without one), a body
// the stamp changed is still JSON, and stamping twice changes nothing more.
func FuzzStampRequestIDs(f *testing.F) {
	for _, seed := range []string{
		`{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"q","arguments":{"a":1}}}`,
		`{"jsonrpc":"2.0","id":"abc","method":"tools/call","params":{"name":"q","_meta":{"pgmoat/request_id":"1"}}}`,
		`[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"q"}},{"jsonrpc":"2.0","method":"notifications/initialized"}]`,
		`{"jsonrpc":"2.0","method":"tools/call","params":{"name":"q","_meta":{"pgmoat/request_id":"7"}}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools\u002fcall","params":{"name":"q"}}`,
		`{"jsonrpc":"2.0","id":1,"method":"ping"}`,
		`{"jsonrpc":"2.0","id":1e400,"method":"tools/call","params":{"name":"q","_meta":{"pgmoat/request_id":"7"}}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"q","_meta":{"pgmoat/request_id":"7","pgmoat/request_id":"8"}}}`,
		`[`, `{`, `"tools/call"`, `null`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		in := bytes.Clone(body)
		out := mcp.StampRequestIDs(body)
		if !bytes.Equal(body, in) {
			t.Fatal("the input was modified")
		}
		if !bytes.Equal(out, body) && !json.Valid(out) {
			t.Fatalf("stamped body is not JSON: %q", out)
		}
		ids, stamps := sdkView(t, out)
		for i := range ids {
			if ids[i] != stamps[i] {
				t.Fatalf("a tools/call with id %s reaches the handler stamped %q\n in %q\nout %q", ids[i], stamps[i], body, out)
			}
		}
		if again := mcp.StampRequestIDs(out); !bytes.Equal(again, out) {
			t.Fatalf("stamping twice changed the body:\n%q\n%q", out, again)
		}
	})
}

// BenchmarkStampRequestIDs: the cost a tools/call pays for its stamp, and
// what every other message pays to be let through.
func BenchmarkStampRequestIDs(b *testing.B) {
	for name, body := range map[string]string{
		"tools/call":               `{"jsonrpc":"2.0","id":42,"method":"tools/call","params":{"name":"query_orders","arguments":{"customer_id":7,"status":"paid","limit":20},"_meta":{"progressToken":3}}}`,
		"tools/call without _meta": `{"jsonrpc":"2.0","id":42,"method":"tools/call","params":{"name":"query_orders","arguments":{"customer_id":7,"status":"paid","limit":20}}}`,
		"ping":                     `{"jsonrpc":"2.0","id":43,"method":"ping"}`,
	} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				mcp.StampRequestIDs([]byte(body))
			}
		})
	}
}
