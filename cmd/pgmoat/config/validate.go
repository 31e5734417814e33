package config

import (
	"fmt"
	"net"
	"regexp"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"gopkg.in/yaml.v3"
)

// Validate checks values and cross references. It reports every problem,
// each naming its key; the first carries the line when Parse knows it.
func (c *Config) Validate() error { return c.validate(nil) }

// validate is Validate with the parsed document, used to find lines.
func (c *Config) validate(doc *yaml.Node) error {
	v := validator{doc: doc}
	v.backend(c.Backend)
	v.proxy(c.Proxy)
	v.policy(c.Policy)
	v.profiles(c.Profiles)
	v.users(c.Users, c.Profiles, c.Proxy.Auth)
	v.mcp(c.MCP, c.Profiles)
	v.admin(c.Admin, c.Users)
	v.rls(c.RLS)
	return v.err()
}

type validator struct {
	doc      *yaml.Node
	problems []string
}

func (v *validator) addf(key, format string, args ...any) {
	v.addAt(strings.Split(key, "."), key, format, args...)
}

// addAt records a problem at the document path, shown as key.
func (v *validator) addAt(path []string, key, format string, args ...any) {
	msg := key + ": " + fmt.Sprintf(format, args...)
	if line := lineOf(v.doc, path); line > 0 {
		msg = fmt.Sprintf("line %d: %s", line, msg)
	}
	v.problems = append(v.problems, msg)
}

// lineOf finds the line of the deepest key of path present in the document.
func lineOf(doc *yaml.Node, path []string) int {
	if doc == nil {
		return 0
	}
	n := doc
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line := 0
	for _, seg := range path {
		if n.Kind != yaml.MappingNode {
			break
		}
		found := false
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == seg {
				line, n, found = n.Content[i].Line, n.Content[i+1], true
				break
			}
		}
		if !found {
			break
		}
	}
	return line
}

func (v *validator) err() error {
	if len(v.problems) == 0 {
		return nil
	}
	return &FieldError{Msg: strings.Join(v.problems, "; ")}
}

func (v *validator) backend(b Backend) {
	if b.DSN != "" {
		if err := parseDSN(b.DSN.Value()); err != nil {
			v.addf("backend.dsn", "not a valid PostgreSQL connection string (%s)", RedactCause(err))
		}
	}
	v.poolSizes("backend.pool", b.Pool, nil)
	v.replicas(b)
}

func parseDSN(dsn string) error {
	_, err := pgconn.ParseConfig(dsn)
	return err
}

// poolSizes checks one host's pool sizes, reported under key; path is
// where the line is looked up (nil: key itself).
func (v *validator) poolSizes(key string, p Pool, path []string) {
	add := func(sub, format string, args ...any) {
		if path == nil {
			v.addf(key+"."+sub, format, args...)
			return
		}
		v.addAt(path, key+"."+sub, format, args...)
	}
	if p.Max < 1 {
		add("max", "must be at least 1, got %d", p.Max)
	}
	if p.Min < 0 || p.Min > p.Max {
		add("min", "must be between 0 and %s.max (%d), got %d", key, p.Max, p.Min)
	}
	if p.AcquireTimeout <= 0 {
		add("acquire_timeout", "must be positive")
	}
	if p.MaxPerIdentity < 0 || p.MaxPerIdentity > max(p.Max, 1) {
		add("max_per_identity", "must be between 1 and %s.max (%d), got %d", key, p.Max, p.MaxPerIdentity)
	}
}

func (v *validator) policy(p Policy) {
	if p.MaxJudgeBytes < 0 {
		v.addf("policy.max_judge_bytes", "must be positive, got %d", p.MaxJudgeBytes)
	}
	if p.JudgeWait < 0 {
		v.addf("policy.judge_wait", "must be positive")
	}
}

func (v *validator) proxy(p Proxy) {
	v.listen("proxy.listen", p.Listen)
	switch p.Auth {
	case "scram-sha-256", "md5", "trust":
	default:
		v.addf("proxy.auth", "%q is not one of scram-sha-256, md5, trust", p.Auth)
	}
	if p.MaxClientConn < 1 {
		v.addf("proxy.max_client_conn", "must be at least 1, got %d", p.MaxClientConn)
	}
	if p.MaxStartups < 0 || p.MaxStartups > p.MaxClientConn && p.MaxClientConn >= 1 {
		v.addf("proxy.max_startups", "must be between 1 and proxy.max_client_conn (%d), got %d", p.MaxClientConn, p.MaxStartups)
	}
	if p.MaxMessageSize < 1024 {
		v.addf("proxy.max_message_size", "must be at least 1024 bytes, got %d", p.MaxMessageSize)
	}
	if p.IdleTransactionTimeout <= 0 {
		v.addf("proxy.idle_transaction_timeout", "must be positive")
	}
	if (p.TLS.Cert == "") != (p.TLS.Key == "") {
		v.addf("proxy.tls", "set both cert and key, or neither")
	}
	if p.TLS.Require && (p.TLS.Cert == "" || p.TLS.Key == "") {
		v.addf("proxy.tls.require", "needs proxy.tls.cert and proxy.tls.key")
	}
	if n := len(p.AuthSecret.Value()); n > 0 && n < 32 {
		v.addf("proxy.auth_secret", "use at least 32 characters, got %d", n)
	}
}

func (v *validator) listen(key, addr string) {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		v.addf(key, "%q is not host:port (e.g. 127.0.0.1:6432)", addr)
	}
}

func (v *validator) profiles(ps map[string]Profile) {
	for _, name := range sortedKeys(ps) {
		p := ps[name]
		if p.StatementTimeout < 0 {
			v.addf("profiles."+name+".statement_timeout", "must not be negative")
		}
		if p.MaxRows < 1 {
			v.addf("profiles."+name+".max_rows", "must be at least 1, got %d", p.MaxRows)
		}
	}
}

func (v *validator) profileRef(key, profile string, ps map[string]Profile) {
	if _, ok := ps[profile]; !ok {
		v.addf(key, "profile %q is not defined under profiles (defined: %s)", profile, strings.Join(sortedKeys(ps), ", "))
	}
}

func (v *validator) users(us map[string]User, ps map[string]Profile, auth string) {
	for _, name := range sortedKeys(us) {
		u := us[name]
		key := "users." + name
		if u.UserID == "" {
			v.addf(key+".user_id", "missing: every user needs the id row-level security sees")
		}
		if u.Password == "" && auth != "trust" {
			v.addf(key+".password", "missing (proxy.auth is %s)", auth)
		}
		v.profileRef(key+".profile", u.Profile, ps)
	}
}

func (v *validator) mcp(m MCP, ps map[string]Profile) {
	v.listen("mcp.listen", m.Listen)
	toks := make([]string, 0, len(m.Tokens))
	for tok := range m.Tokens {
		toks = append(toks, string(tok))
	}
	sort.Strings(toks)
	for i, tok := range toks {
		c := m.Tokens[Secret(tok)]
		key := fmt.Sprintf("mcp.tokens[%d]", i+1) // never print the token itself
		path := []string{"mcp", "tokens", tok}
		if len(tok) < 8 {
			v.addAt(path, key, "token is shorter than 8 characters; use a long random token")
		}
		if c.UserID == "" {
			v.addAt(append(path, "user_id"), key+".user_id", "missing")
		}
		if _, ok := ps[c.Profile]; !ok {
			v.addAt(append(path, "profile"), key+".profile", "profile %q is not defined under profiles (defined: %s)", c.Profile, strings.Join(sortedKeys(ps), ", "))
		}
	}
	if err := m.Tools.Validate(); err != nil {
		v.addf("mcp.tools", "%v", err)
	}
	for _, d := range []struct {
		key string
		v   Duration
	}{{"mcp.session_idle_timeout", m.SessionIdleTimeout}, {"mcp.http.read_header_timeout", m.HTTP.ReadHeaderTimeout},
		{"mcp.http.body_timeout", m.HTTP.BodyTimeout}, {"mcp.http.write_timeout", m.HTTP.WriteTimeout},
		{"mcp.http.idle_timeout", m.HTTP.IdleTimeout}} {
		if d.v < 0 {
			v.addf(d.key, "must be positive")
		}
	}
	if m.MaxSessionsPerToken < 0 {
		v.addf("mcp.max_sessions_per_token", "must be at least 1, got %d", m.MaxSessionsPerToken)
	}
	if m.HTTP.MaxConnections < 0 {
		v.addf("mcp.http.max_connections", "must be at least 1, got %d", m.HTTP.MaxConnections)
	}
	if m.Stateless && m.CursorSecret.Value() == "" {
		v.addf("mcp.stateless", "needs mcp.cursor_secret, the same on every instance: without it a cursor from one instance fails on the next")
	}
	if a := m.Anonymous; a != nil {
		if a.UserID == "" {
			v.addf("mcp.anonymous.user_id", "missing")
		}
		v.profileRef("mcp.anonymous.profile", a.Profile, ps)
	}
	v.oauth(m, ps)
}

func (v *validator) admin(a Admin, us map[string]User) {
	for _, name := range sortedKeys(a.Users) {
		u := a.Users[name]
		if u.Password == "" {
			v.addf("admin.users."+name+".password", "missing")
		}
		if u.Role != "admin" && u.Role != "auditor" {
			v.addf("admin.users."+name+".role", "%q is not admin or auditor", u.Role)
		}
		if _, clash := us[name]; clash {
			v.addf("admin.users."+name, "also defined under users; use distinct names")
		}
	}
}

var customSetting = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_.]*$`)

func (v *validator) rls(r RLS) {
	if !customSetting.MatchString(r.Setting) {
		v.addf("rls.setting", "%q is not a custom setting name like request.user_id (prefix, dot, name)", r.Setting)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
