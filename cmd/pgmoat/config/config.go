package config

import "github.com/pgmoat/pgmoat/mcp"

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
}

// Pool sizes the backend connection pool.
type Pool struct {
	Min            int      `yaml:"min"`             // default 5
	Max            int      `yaml:"max"`             // default 20
	AcquireTimeout Duration `yaml:"acquire_timeout"` // default 2s
	MaxLifetime    Duration `yaml:"max_lifetime"`    // default 1h
	IdleTimeout    Duration `yaml:"idle_timeout"`    // default 10m
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
}

// TLS enables SSL for proxy clients when both files are set.
type TLS struct {
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
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
	Listen    string  `yaml:"listen"` // default 127.0.0.1:8765
	Tokens    Tokens  `yaml:"tokens"`
	Anonymous *Caller `yaml:"anonymous"`
	// Tools shapes the generated tools: include/exclude, overrides,
	// entities, discovery mode.
	Tools mcp.GenerateOptions `yaml:"tools"`
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
	DefaultProfile        = "readonly"
	DefaultProxyListen    = "127.0.0.1:6432"
	DefaultMCPListen      = "127.0.0.1:8765"
	DefaultRLSSetting     = "request.user_id"
	DefaultPoolMin        = 5
	DefaultPoolMax        = 20
	DefaultMaxRows        = 1000
	DefaultMaxClientConn  = 10000
	DefaultMaxMessageSize = 16 << 20
)
