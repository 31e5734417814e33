package mcp

import (
	"bytes"
	"testing"
)

// FuzzStampPlainMessage: where the scanning path decides, it says and
// writes exactly what the decoding path does.
func FuzzStampPlainMessage(f *testing.F) {
	for _, seed := range []string{
		`{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"q","arguments":{"a":1}}}`,
		`{"jsonrpc":"2.0","id":"abc","method":"tools/call","params":{"name":"q","_meta":{"pgmoat/request_id":"1"}}}`,
		`{"jsonrpc":"2.0","method":"tools/call","params":{"name":"q","_meta":{"pgmoat/request_id":"7"}}}`,
		`{"jsonrpc":"2.0","id":1,"method":"ping"}`,
		`{"jsonrpc":"2.0","id":1e2,"method":"tools/call","params":{"name":"q"}}`,
		`{"jsonrpc":"2.0","id":"a` + "\u2028" + `","method":"tools/call","params":{"name":"q"}} `,
		`{"id":-0,"method":"tools/call","params":{}}`, `{"id":012,"method":"tools/call","params":{}}`,
		`{"id":1,"method":"tools/call","method":"ping","params":{}}`, `{"id":null,"method":"tools/call","params":[]}`,
		`{"id":3,"method":"tools/call"}`, `{"id":3,"method":"tools/call","params":{"name":"q"}} x`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		out, ok, decided := stampPlainMessage(raw)
		if !decided {
			return
		}
		want, wantOK := stampDecoded(raw)
		if ok != wantOK || !bytes.Equal(out, want) {
			t.Fatalf("%q:\nscanned  %v %q\ndecoded  %v %q", raw, ok, out, wantOK, want)
		}
	})
}

// TestStampPlainMessageTakesTheUsualCall: a client's ordinary tools/call
// is stamped by the scanning path.
func TestStampPlainMessageTakesTheUsualCall(t *testing.T) {
	for _, raw := range []string{
		`{"jsonrpc":"2.0","id":42,"method":"tools/call","params":{"name":"query_orders","arguments":{"customer_id":7}}}`,
		`{"method":"tools/call","params":{"name":"q","arguments":{}},"jsonrpc":"2.0","id":"req-1"}`,
	} {
		if _, ok, decided := stampPlainMessage([]byte(raw)); !ok || !decided {
			t.Errorf("%s: not stamped by the scan", raw)
		}
	}
}
