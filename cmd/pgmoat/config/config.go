package config

import (
	"github.com/pgmoat/pgmoat/mcp"
	"github.com/pgmoat/pgmoat/policy"
)

// Config is the whole configuration file. The zero value of every field
// means its documented default; Load fills the defaults in.
type Config struct {
	Backend  Backend            `yaml:"backend"`
	Proxy    Proxy              `yaml:"proxy"`
	Profiles map[string]Profile `yaml:"profiles"`
	Users    map[string]User    `yaml:"users"`
	MCP      MCP                `yaml:"mcp"`
	Admin    Admin              `yaml:"admin"`
	RLS      RLS                `yaml:"rls"`
	Policy   Policy             `yaml:"policy"`

	// Path is the file the config was loaded from ("" when built in code).
	Path string `yaml:"-"`
}

// Backend is the PostgreSQL server pgmoat lends connections to.
type Backend struct {
	// DSN of a read-only login role; PGMOAT_BACKEND_DSN overrides it.
	DSN  Secret `yaml:"dsn"`
	Pool Pool   `yaml:"pool"`
	// BehindPooler applies identity and timeout per transaction, for
	// backends reached through a transaction-mode pooler.
	BehindPooler bool `yaml:"behind_pooler"`
	// AllowUnsafeRole lets pgmoat start against a role that could write,
	// bypass RLS or read server files.
	AllowUnsafeRole bool `yaml:"allow_unsafe_role"`
	// Replicas are streaming replicas of the primary (backend.dsn) that
	// serve lendings while their replay lag is within MaxReplicaLag.
	Replicas []Replica `yaml:"replicas"`
	// MaxReplicaLag is the replay lag past which a replica leaves
	// rotation; default 5s.
	MaxReplicaLag Duration `yaml:"max_replica_lag"`
	// Primary says when the primary serves lendings while replicas are
	// configured: fallback (default; when no replica qualifies), never,
	// or always (in rotation beside the replicas).
	Primary string `yaml:"primary"`
}

// Replica is one streaming replica: its DSN (a plain list entry) or a
// mapping {dsn, pool} whose pool sizes, where set, replace backend.pool's
// for this host.
type Replica struct {
	DSN  Secret `yaml:"dsn"`
	Pool Pool   `yaml:"pool"`
}

// Pool sizes the backend connection pool.
type Pool struct {
	Min            int      `yaml:"min"`             // default 5
	Max            int      `yaml:"max"`             // default 20
	AcquireTimeout Duration `yaml:"acquire_timeout"` // default 2s
	MaxLifetime    Duration `yaml:"max_lifetime"`    // default 1h
	IdleTimeout    Duration `yaml:"idle_timeout"`    // default 10m
	// MaxPerIdentity caps the backends one identity (user id and
	// profile) holds at once, proxy sessions and MCP calls together;
	// unset (0) means three quarters of max, at least 1
	// (EffectiveMaxPerIdentity).
	MaxPerIdentity int `yaml:"max_per_identity"`
}

// Proxy is the PostgreSQL wire-protocol listener.
type Proxy struct {
	Listen         string   `yaml:"listen"`           // default 127.0.0.1:6432
	UnixSocket     string   `yaml:"unix_socket"`      // directory for .s.PGSQL.<port>; "" = none
	MaxClientConn  int      `yaml:"max_client_conn"`  // default 10000
	Auth           string   `yaml:"auth"`             // scram-sha-256 (default), md5, trust
	StartupTimeout Duration `yaml:"startup_timeout"`  // default 10s
	MaxMessageSize int      `yaml:"max_message_size"` // bytes; default 16 MiB
	TLS            TLS      `yaml:"tls"`
	ShutdownGrace  Duration `yaml:"shutdown_grace"` // default 30s
	// AuthSecret keys the SCRAM salts shown for unknown user names and
	// given to plain-text passwords, so that they survive a restart as a
	// configured verifier's salt does; set the same value on every
	// instance. At least 32 characters. Default: random per process,
	// with a warning at start when a verifier is configured.
	AuthSecret Secret `yaml:"auth_secret"`
	// MaxStartups caps the connections logging in at once (TLS, startup
	// packet, authentication); more are refused with 53300, so that
	// half-open logins cannot fill max_client_conn. Unset (0): a tenth of
	// max_client_conn, at least 100 (EffectiveMaxStartups).
	MaxStartups int `yaml:"max_startups"`
	// IdleTransactionTimeout rolls back the transaction of a client that
	// holds a backend with no statement running for longer, and
	// disconnects it (25P03); default 1m.
	IdleTransactionTimeout Duration `yaml:"idle_transaction_timeout"`
}

// TLS enables SSL for proxy clients when both files are set.
type TLS struct {
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
	// Require refuses TCP clients that do not negotiate TLS (FATAL 28000,
	// before authentication), as PgBouncer's client_tls_sslmode=require
	// or a hostssl-only pg_hba.conf does. Needs cert and key.
	Require bool `yaml:"require"`
}

// Policy bounds the policy engine's own resources.
type Policy struct {
	// MaxJudgeBytes bounds the statement text judged at once on verdict
	// cache misses (judging costs a few hundred times the text in
	// memory). Default 1.5 MiB.
	MaxJudgeBytes int `yaml:"max_judge_bytes"`
	// JudgeWait is how long a statement waits for room before it is
	// refused with SQLSTATE 53200 (rule input.busy). Default 1s.
	JudgeWait Duration `yaml:"judge_wait"`
}

// Profile is a named set of limits and rules an identity runs under.
type Profile struct {
	StatementTimeout Duration `yaml:"statement_timeout"` // default 5s
	MaxRows          int      `yaml:"max_rows"`          // default 1000
	SlowThreshold    Duration `yaml:"slow_threshold"`    // default 500ms
	AllowSchemas     []string `yaml:"allow_schemas"`
	AllowRelations   []string `yaml:"allow_relations"`
	DenyRelations    []string `yaml:"deny_relations"`
	AllowFunctions   []string `yaml:"allow_functions"`
	DenyFunctions    []string `yaml:"deny_functions"`
}

// User is a proxy login and the identity it runs as.
type User struct {
	Password Secret `yaml:"password"` // plain text or a SCRAM-SHA-256 verifier
	UserID   string `yaml:"user_id"`
	Profile  string `yaml:"profile"` // default readonly
}

// MCP is the MCP front end.
type MCP struct {
	Listen string `yaml:"listen"` // default 127.0.0.1:8765
	// PublicURL is the URL clients use for the MCP endpoint
	// (https://db.example.com/mcp). It makes the HTTP door an OAuth
	// protected resource: the resource of its RFC 9728 metadata and the
	// audience provider tokens must name.
	PublicURL string  `yaml:"public_url"`
	Tokens    Tokens  `yaml:"tokens"`
	Anonymous *Caller `yaml:"anonymous"`
	// Tools shapes the generated tools: include/exclude, overrides,
	// entities, discovery mode.
	Tools mcp.GenerateOptions `yaml:"tools"`
	// JWT accepts signed JSON Web Tokens besides the static tokens.
	JWT *JWT `yaml:"jwt"`
	// OAuth holds the rest of the OAuth resource-server settings:
	// introspection of opaque tokens and the metadata's lists.
	OAuth *OAuth `yaml:"oauth"`
	// ResultCache keeps whole tool results for a short time; off unless a
	// TTL is set.
	ResultCache ResultCache `yaml:"result_cache"`
	// MaxResultBytes is the byte budget of one tool result's rows; beyond
	// it the page is cut and marked truncated. Default 65536.
	MaxResultBytes int `yaml:"max_result_bytes"`
	// MaxRequestBytes caps an HTTP request body. Default 2 MiB.
	MaxRequestBytes int `yaml:"max_request_bytes"`
	// SessionIdleTimeout closes an HTTP session that received no request
	// for this long (an abandoned one). Default 30m.
	SessionIdleTimeout Duration `yaml:"session_idle_timeout"`
	// MaxSessionsPerToken caps the HTTP sessions one caller (the identity
	// a token maps to) holds at once. Default 100.
	MaxSessionsPerToken int `yaml:"max_sessions_per_token"`
	// HTTP bounds the HTTP server's connections.
	HTTP MCPHTTP `yaml:"http"`
	// DataWrapper frames rows in text results as untrusted data: "tags"
	// (the default) or "none".
	DataWrapper string `yaml:"data_wrapper"`
	// CursorSecret signs pagination cursors; set the same value on every
	// instance behind one load balancer. Default: random per process.
	CursorSecret Secret `yaml:"cursor_secret"`
	// Stateless serves MCP over HTTP without sessions, so that instances
	// behind a plain load balancer answer any request (no sticky
	// sessions). It needs CursorSecret. Default false.
	Stateless bool `yaml:"stateless"`
	// Prompts are served to MCP clients beside the generated
	// explore_database prompt.
	Prompts []Prompt `yaml:"prompts"`
	// LogValues names the tool arguments whose values may appear in the
	// per-call log, as "tool.argument" or "argument" (any tool). Every
	// other value is logged as "[redacted]".
	LogValues []string `yaml:"log_values"`
}

// MCPHTTP bounds the connections of the MCP HTTP server, so that slow
// or silent clients cannot take every file descriptor. There is no read
// or write timeout for a whole request (GET event streams stay open),
// only for a POST's body and for each write of its response.
type MCPHTTP struct {
	ReadHeaderTimeout Duration `yaml:"read_header_timeout"` // default 10s
	// BodyTimeout bounds the reading of one POST body. Default 30s.
	BodyTimeout Duration `yaml:"body_timeout"`
	// WriteTimeout bounds each write of a POST response, so a client that
	// stops reading is disconnected. Default 30s.
	WriteTimeout Duration `yaml:"write_timeout"`
	// IdleTimeout closes a keep-alive connection with no request for this
	// long. Default 2m.
	IdleTimeout Duration `yaml:"idle_timeout"`
	// MaxConnections caps the connections served at once; more wait in
	// the kernel's accept queue. Default 512.
	MaxConnections int `yaml:"max_connections"`
}

// JWT configures JSON Web Token bearer tokens: HS256 with a shared secret,
// RS256/ES256 with a public key file, or an OAuth provider's keys
// (RS256/PS256/ES256/EdDSA) from jwks_url or, with none of the three,
// discovered from the issuer's metadata. exp is required; nbf, iss and
// aud are checked when configured or present; with a provider's keys aud
// must name this resource (audience, default mcp.public_url).
type JWT struct {
	Secret        Secret `yaml:"secret"`          // HS256, at least 32 bytes
	PublicKeyFile string `yaml:"public_key_file"` // PEM, RSA (RS256) or EC P-256 (ES256)
	JWKSURL       string `yaml:"jwks_url"`        // the provider's key set
	Issuer        string `yaml:"issuer"`
	Audience      string `yaml:"audience"`
	// Algorithms restricts a provider's algorithms (default RS256, PS256,
	// ES256, EdDSA).
	Algorithms []string `yaml:"algorithms"`
	// JWKSRefresh is how often the key set is fetched again (default
	// 15m); JWKSMinRefetch the least time between fetches caused by an
	// unknown kid (default 10s).
	JWKSRefresh    Duration `yaml:"jwks_refresh"`
	JWKSMinRefetch Duration `yaml:"jwks_min_refetch"`
	UserClaim      string   `yaml:"user_claim"` // default sub
	// ScopeProfiles maps scopes (or profile_claim's values) to profiles:
	// the most restrictive match wins, and a token matching none is
	// refused with 403 insufficient_scope.
	ScopeProfiles map[string]string `yaml:"scope_profiles"`
	ProfileClaim  string            `yaml:"profile_claim"` // optional
	Profile       string            `yaml:"profile"`       // default readonly
	Leeway        Duration          `yaml:"leeway"`        // clock skew tolerated on exp/nbf
}

// OAuth configures the OAuth resource server beyond JWT verification.
type OAuth struct {
	// IntrospectionURL accepts opaque tokens through RFC 7662, asking the
	// provider as client_id/client_secret; answers are reused for
	// cache_ttl (default 30s).
	IntrospectionURL string   `yaml:"introspection_url"`
	ClientID         string   `yaml:"client_id"`
	ClientSecret     Secret   `yaml:"client_secret"`
	CacheTTL         Duration `yaml:"cache_ttl"`
	// AuthorizationServers are listed in the metadata (default
	// mcp.jwt.issuer).
	AuthorizationServers []string `yaml:"authorization_servers"`
	// ScopesSupported are listed in the metadata and 401 challenges
	// (default: the scope_profiles scopes and every mcp.tools.scopes one).
	ScopesSupported []string `yaml:"scopes_supported"`
}

// ResultCache configures the MCP result cache.
type ResultCache struct {
	TTL  Duration `yaml:"ttl"`  // every tool; 0 = off
	Size int      `yaml:"size"` // entries; default 1024
	// Tools overrides the TTL per tool name (0 turns one tool off).
	Tools map[string]Duration `yaml:"tools"`
}

// Prompt is a configured MCP prompt; {{name}} in Text is replaced by the
// argument of that name.
type Prompt struct {
	Name        string           `yaml:"name"`
	Description string           `yaml:"description"`
	Text        string           `yaml:"text"`
	Arguments   []PromptArgument `yaml:"arguments"`
}

// PromptArgument is one argument of a configured prompt.
type PromptArgument struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	Required    bool   `yaml:"required"`
}

// Caller is the identity an MCP request runs as.
type Caller struct {
	UserID  string `yaml:"user_id"`
	Profile string `yaml:"profile"` // default readonly
}

// Admin lists the users of the admin console (virtual database "pgmoat").
type Admin struct {
	Users map[string]AdminUser `yaml:"users"`
}

// AdminUser is an admin-console login.
type AdminUser struct {
	Password Secret `yaml:"password"`
	// Role is "admin" (default) or "auditor" (SHOW and CHECK only).
	Role string `yaml:"role"`
}

// RLS names the setting that carries the user id to row-level security.
type RLS struct {
	Setting string `yaml:"setting"` // default request.user_id
}

// Defaults.
const (
	DefaultProfile        = policy.DefaultProfile
	DefaultProxyListen    = "127.0.0.1:6432"
	DefaultMCPListen      = "127.0.0.1:8765"
	DefaultRLSSetting     = policy.DefaultRLSSetting
	DefaultPoolMin        = 5
	DefaultPoolMax        = 20
	DefaultMaxRows        = policy.DefaultMaxRows
	DefaultMaxClientConn  = 10000
	DefaultMaxMessageSize = 16 << 20
	// DefaultMCPMaxConnections leaves room under a 1,024-descriptor limit
	// for the proxy's clients and the pool.
	DefaultMCPMaxConnections = 512
)
