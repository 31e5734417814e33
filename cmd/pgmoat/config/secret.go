package config

import (
	"encoding/json"
	"regexp"
	"sort"
	"strings"
)

// Secret is a string that must never be printed: passwords, bearer tokens,
// signing keys. fmt, JSON and YAML output show a mask instead of the value.
type Secret string

const mask = "********"

// Value returns the secret itself, for the code that needs to use it.
func (s Secret) Value() string { return string(s) }

// String masks the value so that logging a config never leaks it.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return mask
}

// GoString masks the value for %#v as well.
func (s Secret) GoString() string { return `"` + s.String() + `"` }

// MarshalText masks the value in JSON and YAML output.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

var urlPassword = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9+.-]*://[^:@/]*:)([^@/]*)@`)

var keywordPassword = regexp.MustCompile(`(?i)(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)`)

// RedactDSN masks the password in a connection string, in URL or
// keyword/value form, so that DSNs can appear in messages.
func RedactDSN(dsn string) string {
	if strings.Contains(dsn, "://") {
		return urlPassword.ReplaceAllString(dsn, "${1}"+mask+"@")
	}
	return keywordPassword.ReplaceAllString(dsn, "${1}"+mask)
}

// Tokens maps MCP bearer tokens to the identity they run as.
type Tokens map[Secret]Caller

// MarshalJSON lists the identities without their tokens.
func (t Tokens) MarshalJSON() ([]byte, error) {
	callers := make([]Caller, 0, len(t))
	for _, c := range t {
		callers = append(callers, c)
	}
	sort.Slice(callers, func(i, j int) bool { return callers[i].UserID < callers[j].UserID })
	return json.Marshal(callers)
}
