// Package oauth makes pgmoat's MCP HTTP door an OAuth 2.1 resource server,
// as the MCP authorization spec lays down.
//
// Resource is the RFC 9728 protected-resource metadata (the resource is the
// public URL clients use, mcp.public_url) and the WWW-Authenticate
// challenge of every refusal, which names that metadata so that a client
// can find the authorization server: 401 with error="invalid_token" for a
// bad token, 403 with error="insufficient_scope" and the scopes that would
// do for a token without them (RFC 6750 §3).
//
// KeySet holds a provider's signing keys, from jwks_url or from the
// issuer's metadata (Discover: OpenID Connect discovery, then RFC 8414).
// It refreshes them periodically, fetches again when a token names an
// unknown kid (at most once per Refetch, so a flood of made-up kids costs
// the provider one request per interval), and keeps the last good keys
// when the provider does not answer. Verifier checks JWTs with go-jose
// (github.com/go-jose/go-jose/v4): a maintained JOSE implementation whose
// parser takes the list of accepted algorithms up front, which makes
// "alg: none" and HMAC tokens fail before any key is consulted, and which
// reads JWK sets itself. Only asymmetric algorithms are accepted
// (RS256, PS256, ES256, EdDSA by default), a key that names an algorithm
// is used for that one only, and the key type must match the token's
// algorithm; iss, aud (RFC 8707: this resource), exp (required), nbf and
// iat are checked with the configured leeway.
//
// Introspector asks an RFC 7662 endpoint about opaque tokens, with pgmoat's
// client credentials, and caches each answer for a short time (never past
// the token's exp), keyed by the token's hash.
//
// Mapping turns verified claims into the policy identity: the user claim
// becomes the row-level-security user id, and the profile comes from the
// token's scopes through a configured map (the most restrictive match wins,
// none is a 403), from a claim, or from a fixed default.
//
// Ownership: a KeySet's keys, URL and fetch outcome are guarded by its mu
// and written only by a fetch; fetches are serialized by fetchMu; the
// refresh goroutine runs between Start and Close. An Introspector's cache
// is safe for concurrent use and concurrent first uses of one token share
// one request.
package oauth
