package oauth

import (
	"encoding/json"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/pgmoat/pgmoat/policy"
)

// Mapping turns a verified token's claims into the identity its calls
// run as.
type Mapping struct {
	// UserClaim holds the user id, the value row-level security sees;
	// "" means "sub".
	UserClaim string
	// ScopeProfiles maps scopes to profiles. When set, the token's scopes
	// (or the values of ProfileClaim, when that is set too) pick the
	// profile: the most restrictive of the ones that match, and a refusal
	// when none does.
	ScopeProfiles map[string]string
	// MoreRestrictive orders profiles for ScopeProfiles; nil means by name.
	MoreRestrictive func(a, b string) bool
	// ProfileClaim, without ScopeProfiles, names a claim holding the
	// profile itself; Profile applies when it is absent.
	ProfileClaim string
	Profile      string
}

// Identity maps c to an identity.
func (m Mapping) Identity(c Claims) (policy.Identity, error) {
	userClaim := m.UserClaim
	if userClaim == "" {
		userClaim = "sub"
	}
	user := ClaimText(c[userClaim])
	if user == "" {
		return policy.Identity{}, InvalidToken("claim %q (the user id) is missing", userClaim)
	}
	profile, err := m.profile(c)
	if err != nil {
		return policy.Identity{}, err
	}
	return policy.Identity{UserID: user, Profile: profile}, nil
}

func (m Mapping) profile(c Claims) (string, error) {
	if len(m.ScopeProfiles) == 0 {
		if m.ProfileClaim != "" {
			if p := ClaimText(c[m.ProfileClaim]); p != "" {
				return p, nil
			}
		}
		return m.Profile, nil
	}
	values := Scopes(c)
	if m.ProfileClaim != "" {
		values = ClaimValues(c[m.ProfileClaim])
	}
	var matched []string
	for _, v := range values {
		if p, ok := m.ScopeProfiles[v]; ok {
			matched = append(matched, p)
		}
	}
	if len(matched) == 0 {
		return "", InsufficientScope(m.MappedScopes(), "the token has none of the scopes that map to a profile")
	}
	less := m.MoreRestrictive
	if less == nil {
		less = func(a, b string) bool { return a < b }
	}
	best := matched[0]
	for _, p := range matched[1:] {
		if less(p, best) {
			best = p
		}
	}
	return best, nil
}

// MappedScopes are the keys of ScopeProfiles, sorted.
func (m Mapping) MappedScopes() []string {
	out := make([]string, 0, len(m.ScopeProfiles))
	for s := range m.ScopeProfiles {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// Scopes are the token's scopes: the space-separated "scope" claim (RFC
// 9068, RFC 8693) or, as some providers issue it, "scp" as a list or a
// string.
func Scopes(c Claims) []string {
	if v, ok := c["scope"]; ok {
		return ClaimValues(v)
	}
	return ClaimValues(c["scp"])
}

// HasScopes says whether have holds every one of need.
func HasScopes(have, need []string) bool {
	for _, s := range need {
		if !slices.Contains(have, s) {
			return false
		}
	}
	return true
}

// ClaimValues reads a claim as a list: a JSON array of strings, or a
// space-separated string.
func ClaimValues(v any) []string {
	switch x := v.(type) {
	case string:
		return strings.Fields(x)
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			if s := ClaimText(e); s != "" {
				out = append(out, s)
			}
		}
		return out
	case []string:
		return x
	}
	return nil
}

// ClaimText reads a claim as one string; numbers keep their JSON form.
func ClaimText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case int64:
		return strconv.FormatInt(x, 10)
	case int:
		return strconv.Itoa(x)
	}
	return ""
}
