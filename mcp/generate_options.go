package mcp

import (
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/pgmoat/pgmoat/introspect"
)

// GenerateOptions is the tool-generation part of the configuration (the
// mcp.tools section of the config file). The zero value generates one tool
// per readable relation with the documented defaults.
type GenerateOptions struct {
	// Include lists glob patterns (path.Match syntax) of relations to expose;
	// empty means all. A pattern with a dot matches "schema.table", one
	// without matches the table name in any schema.
	Include []string `yaml:"include"`
	// Exclude lists patterns of relations to leave out; it wins over Include.
	Exclude []string `yaml:"exclude"`
	// MaxRows is the largest limit a tool accepts; 0 means 1000. Set it to
	// the profile's max_rows: policy enforces that cap anyway.
	MaxRows int `yaml:"max_rows"`
	// DefaultLimit is the number of rows returned when a call gives no
	// limit; 0 means 100 (never more than MaxRows).
	DefaultLimit int `yaml:"default_limit"`
	// Discovery is "auto" (the default: the most useful table tools are
	// listed one by one within TokenBudget, the rest are reached through
	// list_tables, describe_table and query_table), "always" (no table
	// tool listed) or "never" (every table tool listed, whatever it costs).
	Discovery string `yaml:"discovery"`
	// TokenBudget is the most tools/list may cost in auto mode, in tokens
	// as EstimateTokens counts them; 0 means 10,000.
	TokenBudget int `yaml:"token_budget"`
	// DiscoveryThreshold additionally caps the number of table tools listed
	// one by one in auto mode; 0 means no cap beyond TokenBudget.
	DiscoveryThreshold int `yaml:"discovery_threshold"`
	// DeprecationGrace is how long a parameter whose column was dropped or
	// marked @deprecated keeps being accepted; 0 means 24h.
	DeprecationGrace time.Duration `yaml:"deprecation_grace"`
	// Overrides adjust the tool of one relation, keyed like Include patterns
	// but exact: "schema.table", or "table" for schema public.
	Overrides map[string]ToolOverride `yaml:"overrides"`
	// Entities are extra tools over one relation each.
	Entities []Entity `yaml:"entities"`
	// Scopes lists, per tool name, the OAuth scopes a call of that tool
	// needs (AuthOptions.ToolScopes); generation does not read it.
	Scopes map[string][]string `yaml:"scopes"`
	// Readable, when set, says whether some profile may read a relation
	// at all, as the policy judges it (ReadableByAny); a relation it
	// refuses (a partition or an inheritance child of a table with
	// row-level security read by its own name, a schema no profile may
	// read) gets no tool, so it takes no tool name and no place among
	// the tools tools/list carries one by one. nil: every relation the
	// role can read gets a tool. Wiring, not configuration.
	Readable func(introspect.QualifiedName) bool `yaml:"-" json:"-"`
}

// ToolOverride adjusts the generated tool of one relation.
type ToolOverride struct {
	// Name replaces the generated tool name.
	Name string `yaml:"name"`
	// Description replaces the relation's COMMENT at the head of the tool
	// description.
	Description string `yaml:"description"`
	// Summary, when false, leaves out the generated part of the description
	// (filters, limit, order, related tools).
	Summary *bool `yaml:"summary"`
	// Required lists filter parameters every call must give.
	Required []string `yaml:"required"`
	// HideColumns are never returned nor filterable (PII, secrets). They
	// stay hidden in every entity over the same relation.
	HideColumns []string `yaml:"hide_columns"`
	// MaxRows lowers the limit maximum for this tool.
	MaxRows int `yaml:"max_rows"`
	// DefaultOrder is an order_by value, e.g. "created_at desc".
	DefaultOrder string `yaml:"default_order"`
}

// Entity is a configured tool over one relation, exposing a fixed subset of
// the relation's generated filters.
type Entity struct {
	Name  string `yaml:"name"`
	Table string `yaml:"table"` // "schema.table", or "table" for schema public
	// Description heads the tool description instead of the relation's
	// COMMENT.
	Description string `yaml:"description"`
	Summary     *bool  `yaml:"summary"`
	// Filters are parameter names of the relation's table tool (customer_id,
	// created_at_gte, ...). limit, order_by, columns and cursor are always
	// present.
	Filters      []string `yaml:"filters"`
	Required     []string `yaml:"required"`
	HideColumns  []string `yaml:"hide_columns"`
	MaxRows      int      `yaml:"max_rows"`
	DefaultOrder string   `yaml:"default_order"`
}

// Defaults.
const (
	DefaultMaxRows          = 1000
	DefaultLimit            = 100
	DefaultTokenBudget      = 10000
	DefaultDeprecationGrace = 24 * time.Hour
)

// ConfigError is a mistake in GenerateOptions itself (as opposed to an
// entry that matches nothing in the current schema, which is a warning so
// that a schema change never takes the tools down).
type ConfigError struct {
	Field string // e.g. "entities[2].name"
	Msg   string
}

func (e *ConfigError) Error() string { return "mcp.tools." + e.Field + ": " + e.Msg }

// withDefaults returns a copy with zero values replaced by defaults.
func (o GenerateOptions) withDefaults() GenerateOptions {
	if o.MaxRows <= 0 {
		o.MaxRows = DefaultMaxRows
	}
	if o.DefaultLimit <= 0 {
		o.DefaultLimit = DefaultLimit
	}
	o.DefaultLimit = min(o.DefaultLimit, o.MaxRows)
	if o.Discovery == "" {
		o.Discovery = "auto"
	}
	if o.TokenBudget <= 0 {
		o.TokenBudget = DefaultTokenBudget
	}
	if o.DeprecationGrace <= 0 {
		o.DeprecationGrace = DefaultDeprecationGrace
	}
	return o
}

// Validate checks what can be checked without a schema.
func (o GenerateOptions) Validate() error {
	switch o.Discovery {
	case "", "auto", "always", "never":
	default:
		return &ConfigError{"discovery", fmt.Sprintf("%q is not auto, always or never", o.Discovery)}
	}
	if o.TokenBudget < 0 {
		return &ConfigError{"token_budget", fmt.Sprintf("%d is negative", o.TokenBudget)}
	}
	if o.DiscoveryThreshold < 0 {
		return &ConfigError{"discovery_threshold", fmt.Sprintf("%d is negative", o.DiscoveryThreshold)}
	}
	for i, p := range append(append([]string{}, o.Include...), o.Exclude...) {
		if _, err := path.Match(p, ""); err != nil {
			return &ConfigError{fmt.Sprintf("include/exclude[%d]", i), fmt.Sprintf("bad pattern %q", p)}
		}
	}
	for key, ov := range o.Overrides {
		if err := checkToolName(ov.Name, true); err != nil {
			return &ConfigError{"overrides." + key + ".name", err.Error()}
		}
	}
	seen := map[string]bool{}
	for i, e := range o.Entities {
		field := fmt.Sprintf("entities[%d]", i)
		if err := checkToolName(e.Name, false); err != nil {
			return &ConfigError{field + ".name", err.Error()}
		}
		if seen[e.Name] {
			return &ConfigError{field + ".name", fmt.Sprintf("%q is defined twice", e.Name)}
		}
		seen[e.Name] = true
		if e.Table == "" {
			return &ConfigError{field + ".table", "is required"}
		}
	}
	return nil
}

func checkToolName(name string, optional bool) error {
	if name == "" {
		if optional {
			return nil
		}
		return fmt.Errorf("is required")
	}
	if len(name) > maxNameLen {
		return fmt.Errorf("%q is longer than %d bytes", name, maxNameLen)
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return fmt.Errorf("%q may only hold letters, digits, _ and -", name)
		}
	}
	switch name {
	case "list_tables", "describe_table", "query_table":
		return fmt.Errorf("%q is reserved for discovery mode", name)
	}
	return nil
}

// tableRef parses "schema.table" or "table" (schema public).
func tableRef(s string) introspect.QualifiedName {
	if i := strings.IndexByte(s, '.'); i >= 0 {
		return introspect.QualifiedName{Schema: s[:i], Name: s[i+1:]}
	}
	return introspect.QualifiedName{Schema: "public", Name: s}
}

// readable asks Readable, when set.
func (o GenerateOptions) readable(q introspect.QualifiedName) bool {
	return o.Readable == nil || o.Readable(q)
}

// exposed applies Include and Exclude to a relation.
func (o GenerateOptions) exposed(q introspect.QualifiedName) bool {
	if matchAny(o.Exclude, q) {
		return false
	}
	return len(o.Include) == 0 || matchAny(o.Include, q)
}

func matchAny(patterns []string, q introspect.QualifiedName) bool {
	for _, p := range patterns {
		subject := q.Name
		if strings.Contains(p, ".") {
			subject = q.Schema + "." + q.Name
		}
		if ok, _ := path.Match(p, subject); ok {
			return true
		}
	}
	return false
}

// override finds the override of a relation.
func (o GenerateOptions) override(q introspect.QualifiedName) (ToolOverride, bool) {
	for key, ov := range o.Overrides {
		if tableRef(key) == q {
			return ov, true
		}
	}
	return ToolOverride{}, false
}
