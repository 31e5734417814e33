package mcp

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestStampRequestIDsHeader: over HTTPHandler a plain tools/call reaches
// the SDK as the client sent it, its id in headerRequestID (whatever the
// request held there before); any other body is stamped as
// StampRequestIDs does, with no header left for the handler to trust.
func TestStampRequestIDsHeader(t *testing.T) {
	for _, c := range []struct {
		name, body string
		wantID     string // "-": no header
	}{
		{"plain number id", `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"q","_meta":{"pgmoat/request_id":"forged"}}}`, "7"},
		{"plain string id", `{"jsonrpc":"2.0","id":"a-1","method":"tools/call","params":{"name":"q"}}`, `"a-1"`},
		{"no id", `{"jsonrpc":"2.0","method":"tools/call","params":{"name":"q"}}`, ""},
		{"escaped", `{"jsonrpc":"2.0","id":7,"method":"tools\/call","params":{"name":"q"}}`, "-"},
		{"batch", `[{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"q"}}]`, "-"},
		{"params not an object", `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":[]}`, "-"},
		{"other method", `{"jsonrpc":"2.0","id":7,"method":"tools/list","params":{}}`, "-"},
	} {
		var gotBody string
		var gotHeader []string
		var hasHeader bool
		h := stampRequestIDsHeader(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			gotBody = string(b)
			gotHeader, hasHeader = r.Header[headerRequestID]
		}), 1<<20)
		r := httptest.NewRequest(http.MethodPost, Path, strings.NewReader(c.body))
		r.Header[headerRequestID] = []string{"planted"}
		h.ServeHTTP(httptest.NewRecorder(), r)
		if c.wantID == "-" {
			if hasHeader {
				t.Errorf("%s: header %q left for the handler", c.name, gotHeader)
			}
			if want := string(StampRequestIDs([]byte(c.body))); gotBody != want {
				t.Errorf("%s: body %s, want the stamped %s", c.name, gotBody, want)
			}
			continue
		}
		if !hasHeader || len(gotHeader) != 1 || gotHeader[0] != c.wantID {
			t.Errorf("%s: header %q (present %v), want %q", c.name, gotHeader, hasHeader, c.wantID)
		}
		if gotBody != c.body {
			t.Errorf("%s: body rewritten to %s", c.name, gotBody)
		}
	}
}
