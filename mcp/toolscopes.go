package mcp

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"

	"github.com/modelcontextprotocol/go-sdk/auth"

	"github.com/pgmoat/pgmoat/mcp/oauth"
)

// toolScopes refuses, with 403 insufficient_scope, a tools/call whose
// token lacks the scopes AuthOptions.ToolScopes names for the tool. A
// discovery-mode call (query_table, describe_table) needs the scopes of
// the table's own tool. It reads the body, at most limit bytes of it (a
// longer one goes on untouched, to be refused as too large), only when
// scopes are configured and the caller's token came from a provider.
func (s *Server) toolScopes(a *Authenticator, next http.Handler, limit int64) http.Handler {
	if len(a.scopes) == 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info := auth.TokenInfoFromContext(r.Context())
		if r.Method != http.MethodPost || info == nil || info.Scopes == nil {
			next.ServeHTTP(w, r)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
		if err != nil {
			http.Error(w, "pgmoat: reading the request: "+err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = readCloser{io.MultiReader(bytes.NewReader(body), r.Body), r.Body}
		if int64(len(body)) <= limit {
			if need := s.scopesNeeded(a, body); !oauth.HasScopes(info.Scopes, need) {
				a.refuse(w, oauth.InsufficientScope(need, "this tool needs the scope(s) %v", need))
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

type readCloser struct {
	io.Reader
	io.Closer
}

// toolCall is the part of a JSON-RPC message toolScopes reads.
type toolCall struct {
	Method string `json:"method"`
	Params struct {
		Name      string          `json:"name"`
		Arguments json.RawMessage `json:"arguments"`
	} `json:"params"`
}

// table is the table argument of a discovery-mode call.
func (c toolCall) table() string {
	var args struct {
		Table any `json:"table"`
	}
	_ = json.Unmarshal(c.Params.Arguments, &args)
	t, _ := args.Table.(string)
	return t
}

// scopesNeeded lists the scopes every tools/call in body (one message or
// a batch) needs.
func (s *Server) scopesNeeded(a *Authenticator, body []byte) []string {
	var raws []json.RawMessage
	if json.Unmarshal(body, &raws) != nil {
		raws = []json.RawMessage{body}
	}
	var need []string
	for _, raw := range raws {
		var m toolCall
		if json.Unmarshal(raw, &m) != nil || m.Method != "tools/call" {
			continue // the SDK answers a malformed message with an error
		}
		need = append(need, a.scopes[m.Params.Name]...)
		if t := m.table(); t != "" && (m.Params.Name == "query_table" || m.Params.Name == "describe_table") {
			if spec, ok := s.opts.Tools.Current().Table(t); ok {
				need = append(need, a.scopes[spec.Name]...)
			}
		}
	}
	return need
}
