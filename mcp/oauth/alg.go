package oauth

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"fmt"
	"strings"

	jose "github.com/go-jose/go-jose/v4"
)

// DefaultAlgorithms are the asymmetric signature algorithms accepted from
// a provider's key set. HMAC is never among them (a public key must not
// double as a shared secret), nor is "none".
var DefaultAlgorithms = []jose.SignatureAlgorithm{jose.RS256, jose.PS256, jose.ES256, jose.EdDSA}

// ParseAlgorithms checks configured algorithm names against the ones a
// key set may use.
func ParseAlgorithms(names []string) ([]jose.SignatureAlgorithm, error) {
	if len(names) == 0 {
		return DefaultAlgorithms, nil
	}
	out := make([]jose.SignatureAlgorithm, 0, len(names))
	for _, n := range names {
		alg := jose.SignatureAlgorithm(n)
		if familyOf(alg) == "" {
			return nil, fmt.Errorf("algorithm %q is not one of %s", n, algNames(supportedAlgorithms))
		}
		out = append(out, alg)
	}
	return out, nil
}

// supportedAlgorithms may be named in the config: the defaults and their
// larger-hash siblings.
var supportedAlgorithms = []jose.SignatureAlgorithm{jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512,
	jose.ES256, jose.ES384, jose.ES512, jose.EdDSA}

func algNames(algs []jose.SignatureAlgorithm) string {
	s := make([]string, len(algs))
	for i, a := range algs {
		s[i] = string(a)
	}
	return strings.Join(s, ", ")
}

// familyOf names the key type alg needs: "RSA", "EC P-256" (and the
// other curves) or "OKP Ed25519"; "" for an algorithm not accepted.
func familyOf(alg jose.SignatureAlgorithm) string {
	switch alg {
	case jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512:
		return "RSA"
	case jose.ES256:
		return "EC P-256"
	case jose.ES384:
		return "EC P-384"
	case jose.ES512:
		return "EC P-521"
	case jose.EdDSA:
		return "OKP Ed25519"
	}
	return ""
}

// keyType is familyOf's counterpart for a key; "" for a key no accepted
// algorithm uses (symmetric keys among them).
func keyType(key jose.JSONWebKey) string {
	switch k := key.Key.(type) {
	case *rsa.PublicKey, *rsa.PrivateKey:
		return "RSA"
	case *ecdsa.PublicKey:
		return ecName(k.Curve)
	case *ecdsa.PrivateKey:
		return ecName(k.Curve)
	case ed25519.PublicKey, ed25519.PrivateKey:
		return "OKP Ed25519"
	}
	return ""
}

func ecName(c elliptic.Curve) string {
	switch c {
	case elliptic.P256():
		return "EC P-256"
	case elliptic.P384():
		return "EC P-384"
	case elliptic.P521():
		return "EC P-521"
	}
	return ""
}
