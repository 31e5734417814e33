package config

import (
	"encoding/json"
	"sort"
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
