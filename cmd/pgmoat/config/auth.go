package config

import (
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"sort"
	"strings"

	"github.com/pgmoat/pgmoat/mcp"
	"github.com/pgmoat/pgmoat/mcp/oauth"
	"github.com/pgmoat/pgmoat/policy"
)

// MCPAuthOptions turns tokens, JWT, OAuth and the anonymous identity into
// the HTTP authenticator's options.
func (c *Config) MCPAuthOptions(logger *slog.Logger) (mcp.AuthOptions, error) {
	m := c.MCP
	o := mcp.AuthOptions{Tokens: map[string]policy.Identity{}, ToolScopes: m.Tools.Scopes, Logger: logger}
	for tok, caller := range m.Tokens {
		o.Tokens[tok.Value()] = policy.Identity{UserID: caller.UserID, Profile: caller.Profile}
	}
	if a := m.Anonymous; a != nil {
		o.Anonymous = &policy.Identity{UserID: a.UserID, Profile: a.Profile}
	}
	if j := m.JWT; j != nil {
		jo, err := c.jwtOptions(j)
		if err != nil {
			return o, err
		}
		o.JWT = jo
	}
	if a := m.OAuth; a != nil && a.IntrospectionURL != "" {
		o.Introspection = &oauth.IntrospectorOptions{URL: a.IntrospectionURL, ClientID: a.ClientID,
			ClientSecret: a.ClientSecret.Value(), CacheTTL: a.CacheTTL.D(), Audience: c.audience()}
		if j := m.JWT; j != nil {
			o.Introspection.Issuer = j.Issuer
		} else {
			o.JWT = &mcp.JWTOptions{Profile: DefaultProfile} // the claim mapping, no JWTs
		}
	}
	if m.PublicURL != "" {
		o.Resource = &oauth.Resource{URL: m.PublicURL, AuthorizationServers: c.authorizationServers(), Scopes: c.scopesSupported()}
	}
	return o, nil
}

func (c *Config) jwtOptions(j *JWT) (*mcp.JWTOptions, error) {
	jo := &mcp.JWTOptions{Secret: []byte(j.Secret.Value()), JWKSURL: j.JWKSURL, Issuer: j.Issuer, Audience: j.Audience,
		Algorithms: j.Algorithms, KeyRefresh: j.JWKSRefresh.D(), KeyRefetch: j.JWKSMinRefetch.D(),
		UserClaim: j.UserClaim, ScopeProfiles: j.ScopeProfiles, MoreRestrictive: c.MoreRestrictive,
		ProfileClaim: j.ProfileClaim, Profile: j.Profile, Leeway: j.Leeway.D()}
	if jo.Profile == "" {
		jo.Profile = DefaultProfile
	}
	if jo.Audience == "" {
		jo.Audience = c.MCP.PublicURL // RFC 8707: the token names this resource
	}
	if j.PublicKeyFile != "" {
		pem, err := os.ReadFile(j.PublicKeyFile)
		if err != nil {
			return nil, fmt.Errorf("mcp.jwt.public_key_file: %w", err)
		}
		jo.PublicKeyPEM = pem
	}
	return jo, nil
}

// audience is what tokens must name: mcp.jwt.audience, else the public URL.
func (c *Config) audience() string {
	if j := c.MCP.JWT; j != nil && j.Audience != "" {
		return j.Audience
	}
	return c.MCP.PublicURL
}

func (c *Config) authorizationServers() []string {
	if a := c.MCP.OAuth; a != nil && len(a.AuthorizationServers) > 0 {
		return a.AuthorizationServers
	}
	if j := c.MCP.JWT; j != nil && j.Issuer != "" {
		return []string{j.Issuer}
	}
	return nil
}

// scopesSupported defaults to every scope the config gives a meaning.
func (c *Config) scopesSupported() []string {
	if a := c.MCP.OAuth; a != nil && len(a.ScopesSupported) > 0 {
		return a.ScopesSupported
	}
	seen := map[string]bool{}
	if j := c.MCP.JWT; j != nil && j.ProfileClaim == "" {
		for s := range j.ScopeProfiles {
			seen[s] = true
		}
	}
	for _, ss := range c.MCP.Tools.Scopes {
		for _, s := range ss {
			seen[s] = true
		}
	}
	out := make([]string, 0, len(seen))
	for s := range seen {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// MoreRestrictive orders profiles for mcp.jwt.scope_profiles: fewer
// max_rows first, then the shorter statement_timeout, then the name.
func (c *Config) MoreRestrictive(a, b string) bool {
	pa, pb := c.Profiles[a], c.Profiles[b]
	switch {
	case pa.MaxRows != pb.MaxRows:
		return pa.MaxRows < pb.MaxRows
	case pa.StatementTimeout != pb.StatementTimeout:
		return pa.StatementTimeout < pb.StatementTimeout
	}
	return a < b
}

// AuthMode says in one line, without secrets, how MCP callers are
// authenticated.
func (c *Config) AuthMode() string {
	m := c.MCP
	var parts []string
	if n := len(m.Tokens); n > 0 {
		parts = append(parts, fmt.Sprintf("static tokens (%d)", n))
	}
	if j := m.JWT; j != nil {
		switch {
		case j.Secret != "":
			parts = append(parts, "JWT HS256 (shared secret)")
		case j.PublicKeyFile != "":
			parts = append(parts, "JWT with the public key "+j.PublicKeyFile)
		case j.JWKSURL != "":
			parts = append(parts, "OAuth JWT, keys from "+j.JWKSURL)
		case j.Issuer != "":
			parts = append(parts, "OAuth JWT, keys discovered from "+j.Issuer)
		}
	}
	if a := m.OAuth; a != nil && a.IntrospectionURL != "" {
		parts = append(parts, "OAuth introspection at "+a.IntrospectionURL)
	}
	if m.Anonymous != nil {
		parts = append(parts, "anonymous as user id "+m.Anonymous.UserID)
	}
	if len(parts) == 0 {
		return "nobody (no tokens, no JWT, no anonymous)"
	}
	return strings.Join(parts, " + ")
}

// authRows are SHOW CONFIG's rows for MCP authentication.
func (c *Config) authRows() [][2]string {
	m := c.MCP
	rows := [][2]string{{"mcp.auth", c.AuthMode()}}
	if m.PublicURL != "" {
		rows = append(rows, [2]string{"mcp.public_url", m.PublicURL})
	}
	if j := m.JWT; j != nil {
		for _, r := range [][2]string{{"issuer", j.Issuer}, {"jwks_url", j.JWKSURL}, {"audience", c.audience()},
			{"user_claim", j.UserClaim}, {"profile_claim", j.ProfileClaim}, {"algorithms", strings.Join(j.Algorithms, ", ")},
			{"scope_profiles", pairs(j.ScopeProfiles)}, {"leeway", j.Leeway.D().String()}} {
			if r[1] != "" {
				rows = append(rows, [2]string{"mcp.jwt." + r[0], r[1]})
			}
		}
	}
	if a := m.OAuth; a != nil && a.IntrospectionURL != "" {
		rows = append(rows, [2]string{"mcp.oauth.introspection_url", a.IntrospectionURL},
			[2]string{"mcp.oauth.client_id", a.ClientID + " (client_secret " + a.ClientSecret.String() + ")"})
	}
	if len(m.Tools.Scopes) > 0 {
		scopes := make(map[string]string, len(m.Tools.Scopes))
		for tool, ss := range m.Tools.Scopes {
			scopes[tool] = strings.Join(ss, " ")
		}
		rows = append(rows, [2]string{"mcp.tools.scopes", pairs(scopes)})
	}
	return rows
}

func pairs(m map[string]string) string {
	keys := sortedKeys(m)
	for i, k := range keys {
		keys[i] = k + "=" + m[k]
	}
	return strings.Join(keys, ", ")
}

// oauth checks mcp.public_url, mcp.jwt and mcp.oauth.
func (v *validator) oauth(m MCP, ps map[string]Profile) {
	if m.PublicURL != "" {
		v.publicURL(m.PublicURL)
	}
	provider := false
	if j := m.JWT; j != nil {
		sources := 0
		for _, s := range []string{j.Secret.Value(), j.PublicKeyFile, j.JWKSURL} {
			if s != "" {
				sources++
			}
		}
		switch {
		case sources > 1:
			v.addf("mcp.jwt", "set only one of secret, public_key_file and jwks_url")
		case sources == 0 && j.Issuer == "" && (m.OAuth == nil || m.OAuth.IntrospectionURL == ""):
			v.addf("mcp.jwt", "needs a key source: secret, public_key_file, jwks_url, or issuer to discover the keys from")
		}
		provider = j.Secret == "" && j.PublicKeyFile == "" && (j.JWKSURL != "" || j.Issuer != "")
		if _, err := oauth.ParseAlgorithms(j.Algorithms); err != nil {
			v.addf("mcp.jwt.algorithms", "%v", err)
		}
		for _, scope := range sortedKeys(j.ScopeProfiles) {
			v.profileRef("mcp.jwt.scope_profiles."+scope, j.ScopeProfiles[scope], ps)
		}
		if j.Profile != "" {
			v.profileRef("mcp.jwt.profile", j.Profile, ps)
		}
		if j.JWKSURL != "" {
			v.url("mcp.jwt.jwks_url", j.JWKSURL)
		}
	}
	if a := m.OAuth; a != nil && a.IntrospectionURL != "" {
		provider = true
		v.url("mcp.oauth.introspection_url", a.IntrospectionURL)
		if a.ClientID == "" {
			v.addf("mcp.oauth.client_id", "missing (introspection authenticates as a client)")
		}
	}
	if provider && m.PublicURL == "" {
		v.addf("mcp.public_url", "missing: tokens from a provider must name this resource; set it to the URL clients use, like https://db.example.com/mcp")
	}
}

// publicURL accepts https, and http on a loopback host only (the MCP
// authorization spec's rule).
func (v *validator) publicURL(s string) {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		v.addf("mcp.public_url", "%q is not an absolute http(s) URL", s)
		return
	}
	if u.Fragment != "" || u.RawQuery != "" {
		v.addf("mcp.public_url", "%q must have no query or fragment", s)
	}
	if u.Scheme == "http" && !loopbackHost(u.Hostname()) {
		v.addf("mcp.public_url", "%q: use https (plain http only on a loopback host)", s)
	}
}

func (v *validator) url(key, s string) {
	if u, err := url.Parse(s); err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		v.addf(key, "%q is not an absolute http(s) URL", s)
	}
}

func loopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
