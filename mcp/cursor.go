package mcp

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"

	"github.com/pgmoat/pgmoat/policy"
)

// A cursor is base64url(payload) "." base64url(HMAC-SHA256(payload)). The
// payload holds the keyset position (the order-key values of the last row
// returned, as text) and a digest of the query it belongs to: tool, caller,
// filters and order. The MAC makes it tamper-evident, the digest ties it
// to one query and one caller: another caller's token, other filters or a
// forged position are refused rather than silently giving other rows.

type cursorPayload struct {
	V int       `json:"v"`
	Q string    `json:"q"`
	K []*string `json:"k"`
}

const cursorVersion = 1

// errCursor is what every bad cursor gets: the model can always recover by
// starting over.
var errCursor = &argError{"cursor is not valid for this call: it was made for another query or caller, or it was altered. " +
	"Call again without cursor, with the same filters and order, to start from the first page."}

// cursorDigest identifies the query a cursor continues: SHA-256 over
// the tool, table, caller, filters and order, each part followed by a
// NUL (a list's items joined by NULs). The parts go into one buffer,
// on the stack for the usual call, and are hashed at once.
func cursorDigest(spec *ToolSpec, id policy.Identity, a *callArgs, keys []orderKey) string {
	var stack [512]byte
	b := stack[:0]
	write := func(s string) { b = append(append(b, s...), 0) }
	write(spec.Name)
	b = append(append(append(b, spec.Table.Schema...), '.'), spec.Table.Name...) // Table.String()
	b = append(b, 0)
	write(id.UserID)
	write(id.Profile)
	for _, p := range spec.Params {
		if f, ok := a.filters[p.Name]; ok {
			write(p.Name)
			write(f.text)
			for i, item := range f.list {
				if i > 0 {
					b = append(b, 0)
				}
				b = append(b, item...)
			}
			b = append(b, 0)
		}
	}
	for _, k := range keys {
		write(k.column)
		if k.desc {
			write("desc")
		}
	}
	sum := sha256.Sum256(b)
	return base64.RawURLEncoding.EncodeToString(sum[:16])
}

func encodeCursor(key []byte, digest string, position []*string) string {
	payload, _ := json.Marshal(cursorPayload{V: cursorVersion, Q: digest, K: position})
	mac := hmac.New(sha256.New, key)
	mac.Write(payload)
	return base64.RawURLEncoding.EncodeToString(payload) + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// decodeCursor checks the MAC and the digest and returns the position.
func decodeCursor(key []byte, digest, cursor string, nkeys int) ([]*string, error) {
	body, sig, ok := strings.Cut(cursor, ".")
	if !ok || len(cursor) > 64<<10 {
		return nil, errCursor
	}
	payload, err1 := base64.RawURLEncoding.DecodeString(body)
	got, err2 := base64.RawURLEncoding.DecodeString(sig)
	if err := errors.Join(err1, err2); err != nil {
		return nil, errCursor
	}
	mac := hmac.New(sha256.New, key)
	mac.Write(payload)
	if !hmac.Equal(got, mac.Sum(nil)) {
		return nil, errCursor
	}
	var p cursorPayload
	if err := json.Unmarshal(payload, &p); err != nil || p.V != cursorVersion || p.Q != digest || len(p.K) != nkeys {
		return nil, errCursor
	}
	return p.K, nil
}

// nullPattern says which position values are present.
func nullPattern(position []*string) []bool {
	out := make([]bool, len(position))
	for i, v := range position {
		out[i] = v != nil
	}
	return out
}
