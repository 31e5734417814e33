package oauth

import (
	"context"
	"errors"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Claims are the claims of a verified token.
type Claims map[string]any

// VerifierOptions configure a Verifier.
type VerifierOptions struct {
	Keys *KeySet
	// Algorithms are the ones accepted; nil means DefaultAlgorithms.
	Algorithms []jose.SignatureAlgorithm
	// Issuer must equal iss when set.
	Issuer string
	// Audience must be among aud (RFC 8707: the token was issued for this
	// resource). Required.
	Audience string
	// Leeway tolerates clock skew on exp, nbf and iat.
	Leeway time.Duration
}

// Verifier checks JWT access tokens against a provider's key set with a
// maintained JOSE implementation: the algorithm must be one of the
// accepted asymmetric ones before any key is looked at (so "none" and
// HMAC never get that far), the key must be of that algorithm's type, and
// then the signature, iss, aud, exp (required), nbf and iat are checked.
type Verifier struct {
	opts VerifierOptions
	now  func() time.Time
}

// NewVerifier returns a Verifier; it needs an audience and a key set.
func NewVerifier(o VerifierOptions) (*Verifier, error) {
	if o.Keys == nil {
		return nil, errors.New("oauth: a verifier needs a key set")
	}
	if o.Audience == "" {
		return nil, errors.New("oauth: a verifier needs the audience tokens must name (the resource's public URL)")
	}
	if len(o.Algorithms) == 0 {
		o.Algorithms = DefaultAlgorithms
	}
	return &Verifier{opts: o, now: time.Now}, nil
}

// Verify checks raw and returns its claims and expiry.
func (v *Verifier) Verify(ctx context.Context, raw string) (Claims, time.Time, error) {
	tok, err := jwt.ParseSigned(raw, v.opts.Algorithms)
	if err != nil {
		return nil, time.Time{}, InvalidToken("not a JWT signed with one of %s: %v", algNames(v.opts.Algorithms), err)
	}
	h := tok.Headers[0]
	key, err := v.opts.Keys.Key(ctx, h.KeyID, jose.SignatureAlgorithm(h.Algorithm))
	if err != nil {
		return nil, time.Time{}, InvalidToken("kid %q: %v", h.KeyID, err)
	}
	var std jwt.Claims
	all := Claims{}
	if err := tok.Claims(key.Key, &std, &all); err != nil {
		return nil, time.Time{}, InvalidToken("signature: %v", err)
	}
	if std.Expiry == nil {
		return nil, time.Time{}, InvalidToken("exp is missing")
	}
	want := jwt.Expected{Issuer: v.opts.Issuer, AnyAudience: jwt.Audience{v.opts.Audience}, Time: v.now()}
	if err := std.ValidateWithLeeway(want, v.opts.Leeway); err != nil {
		return nil, time.Time{}, InvalidToken("%s", claimProblem(err, std, v.opts))
	}
	return all, std.Expiry.Time(), nil
}

// claimProblem words a failed claim check for the caller.
func claimProblem(err error, c jwt.Claims, o VerifierOptions) string {
	switch {
	case errors.Is(err, jwt.ErrInvalidIssuer):
		return "iss " + quote(c.Issuer) + " is not " + quote(o.Issuer)
	case errors.Is(err, jwt.ErrInvalidAudience):
		return "aud does not name this resource " + quote(o.Audience)
	case errors.Is(err, jwt.ErrExpired):
		return "the token has expired"
	case errors.Is(err, jwt.ErrNotValidYet):
		return "the token is not valid yet (nbf)"
	case errors.Is(err, jwt.ErrIssuedInTheFuture):
		return "the token was issued in the future (iat)"
	}
	return err.Error()
}

func quote(s string) string { return `"` + s + `"` }
