package mcp

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
)

// maxNameLen caps tool and parameter names: several LLM APIs reject
// function and argument names longer than 64 bytes.
const maxNameLen = 64

// normalize turns an identifier into lower-case ASCII letters, digits and
// underscores: Latin accents are stripped, every other run of characters
// becomes one underscore.
func normalize(s string) string {
	var b strings.Builder
	pendingSep := false
	for _, r := range strings.ToLower(s) {
		r = foldLatin(r)
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			if pendingSep && b.Len() > 0 {
				b.WriteByte('_')
			}
			pendingSep = false
			b.WriteRune(r)
			continue
		}
		pendingSep = true
	}
	return b.String()
}

// foldLatin maps accented Latin letters to their base letter.
func foldLatin(r rune) rune {
	if r < 0xC0 || r > 0x17F {
		return r
	}
	const from = "àáâãäåāăąçćĉċčďđèéêëēĕėęěĝğġģĥħìíîïĩīĭįıĵķĺļľŀłñńņňòóôõöøōŏőŕŗřśŝşšţťŧùúûüũūŭůűųŵýÿŷźżž"
	const to = "aaaaaaaaaccccccddeeeeeeeeegggghhiiiiiiiiijklllllnnnnoooooooooorrrsssstttuuuuuuuuuuwyyyzzz"
	fromRunes := []rune(from)
	for i, f := range fromRunes {
		if f == r {
			return rune(to[i])
		}
	}
	switch r {
	case 'ß':
		return 's'
	case 'æ':
		return 'a'
	case 'œ':
		return 'o'
	}
	return r
}

// shortHash is the collision suffix: six hex digits of SHA-256 of the exact
// identity, so it depends on nothing but the object itself.
func shortHash(identity string) string {
	sum := sha256.Sum256([]byte(identity))
	return hex.EncodeToString(sum[:3])
}

// fit caps a name at maxNameLen, replacing the tail with a hash suffix.
func fit(name, identity string) (string, bool) {
	if len(name) <= maxNameLen {
		return name, false
	}
	suffix := "_" + shortHash(identity)
	return strings.TrimRight(name[:maxNameLen-len(suffix)], "_") + suffix, true
}

// nameClaim is one object asking for a name.
type nameClaim struct {
	want     string // the normalized name it would like
	identity string // exact identity, hashed for the suffix
	// natural: the object's exact name is already the wanted name (or the
	// name was chosen in config); it keeps the name in a collision.
	natural bool
}

// assignNames resolves collisions deterministically: for each wanted name,
// the natural claim (if exactly one) keeps it, the others get a hash
// suffix. reserved names are never handed out without a suffix. It returns
// the names in claim order and one warning per renamed claim.
func assignNames(claims []nameClaim, reserved map[string]bool, what string) ([]string, []string, error) {
	groups := map[string][]int{}
	for i, c := range claims {
		groups[c.want] = append(groups[c.want], i)
	}
	out := make([]string, len(claims))
	var warnings []string
	keys := make([]string, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, want := range keys {
		idx := groups[want]
		keeper := -1
		if !reserved[want] {
			keeper = pickKeeper(claims, idx)
		}
		for _, i := range idx {
			if i == keeper {
				out[i] = want
				continue
			}
			out[i] = suffixed(want, claims[i].identity)
			warnings = append(warnings, fmt.Sprintf("%s %q would be named %q like another one; named %q instead",
				what, claims[i].identity, want, out[i]))
		}
	}
	if err := checkUnique(out, what); err != nil {
		return nil, nil, err
	}
	return out, warnings, nil
}

func pickKeeper(claims []nameClaim, idx []int) int {
	if len(idx) == 1 {
		return idx[0]
	}
	keeper := -1
	for _, i := range idx {
		if claims[i].natural {
			if keeper >= 0 {
				return -1 // two natural claims: nobody keeps it
			}
			keeper = i
		}
	}
	return keeper
}

func suffixed(name, identity string) string {
	suffix := "_" + shortHash(identity)
	if len(name)+len(suffix) > maxNameLen {
		name = strings.TrimRight(name[:maxNameLen-len(suffix)], "_")
	}
	return name + suffix
}

func checkUnique(names []string, what string) error {
	seen := map[string]bool{}
	for _, n := range names {
		if seen[n] {
			return fmt.Errorf("mcp: two %ss still share the name %q after suffixing", what, n)
		}
		seen[n] = true
	}
	return nil
}
