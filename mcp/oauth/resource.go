package oauth

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// WellKnownPath is where RFC 9728 protected-resource metadata lives; the
// metadata of a resource with a path is at WellKnownPath + that path.
const WellKnownPath = "/.well-known/oauth-protected-resource"

// Resource describes pgmoat as an OAuth 2.1 protected resource.
type Resource struct {
	// URL is the resource identifier: the URL clients use for the MCP
	// endpoint (mcp.public_url). Tokens must name it in aud.
	URL string
	// AuthorizationServers are the issuers whose tokens are accepted.
	AuthorizationServers []string
	// Scopes are the scopes this resource understands.
	Scopes []string
}

// Metadata is the RFC 9728 document.
type Metadata struct {
	Resource               string   `json:"resource"`
	AuthorizationServers   []string `json:"authorization_servers,omitempty"`
	ScopesSupported        []string `json:"scopes_supported,omitempty"`
	BearerMethodsSupported []string `json:"bearer_methods_supported"`
	ResourceName           string   `json:"resource_name,omitempty"`
}

// Document is the metadata served for r.
func (r Resource) Document() Metadata {
	return Metadata{Resource: r.URL, AuthorizationServers: r.AuthorizationServers, ScopesSupported: r.Scopes,
		BearerMethodsSupported: []string{"header"}, ResourceName: "pgmoat"}
}

// MetadataURL is the path-suffixed metadata URL of r (RFC 9728 §3.1),
// the one 401 challenges name.
func (r Resource) MetadataURL() string {
	u, err := url.Parse(r.URL)
	if err != nil {
		return ""
	}
	path := strings.TrimSuffix(u.Path, "/")
	u.Path, u.RawPath, u.RawQuery, u.Fragment = WellKnownPath+path, "", "", ""
	return u.String()
}

// MetadataPaths are the request paths the metadata is served at: the
// bare well-known path, the one suffixed with the public URL's path and
// the one suffixed with mcpPath (the path pgmoat itself serves, which
// differs from the public one behind a proxy that rewrites paths).
func (r Resource) MetadataPaths(mcpPath string) []string {
	paths := []string{WellKnownPath, WellKnownPath + mcpPath}
	if u, err := url.Parse(r.URL); err == nil {
		if p := strings.TrimSuffix(u.Path, "/"); p != "" && p != mcpPath {
			paths = append(paths, WellKnownPath+p)
		}
	}
	return paths
}

// Handler serves the metadata to any origin (it is public by design,
// RFC 9728 §3), for GET and HEAD, with a CORS preflight answer.
func (r Resource) Handler() http.Handler {
	body, _ := json.Marshal(r.Document())
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.Header().Set("Access-Control-Allow-Methods", "GET, OPTIONS")
		w.Header().Set("Access-Control-Allow-Headers", "Content-Type, MCP-Protocol-Version")
		switch req.Method {
		case http.MethodOptions:
			w.WriteHeader(http.StatusNoContent)
		case http.MethodGet, http.MethodHead:
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Cache-Control", "max-age=300")
			_, _ = w.Write(body)
		default:
			w.Header().Set("Allow", "GET, OPTIONS")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		}
	})
}

// Challenge is the WWW-Authenticate value for a refusal: the metadata
// URL always, so that a client learns where to get a token; the error
// code, its description and the scope when there are any.
func (r Resource) Challenge(e *Error) string {
	var params []string
	if r.URL != "" {
		params = append(params, fmt.Sprintf("resource_metadata=%s", quoted(r.MetadataURL())))
	} else {
		params = append(params, `realm="pgmoat"`)
	}
	if e != nil && e.Code != "" {
		params = append(params, "error="+quoted(e.Code))
		if e.Description != "" {
			params = append(params, "error_description="+quoted(e.Description))
		}
	}
	scope := r.Scopes
	if e != nil && len(e.Scope) > 0 {
		scope = e.Scope
	}
	if len(scope) > 0 {
		params = append(params, "scope="+quoted(strings.Join(scope, " ")))
	}
	return "Bearer " + strings.Join(params, ", ")
}

// quoted is an RFC 9110 quoted-string: backslash before " and \, and
// characters a header cannot carry dropped.
func quoted(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, c := range s {
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteRune(c)
		case c == '\t' || (c >= 0x20 && c < 0x7f):
			b.WriteRune(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}
