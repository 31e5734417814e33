package oauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// ServerMetadata is the part of an authorization server's metadata (RFC
// 8414, OpenID Connect Discovery 1.0) pgmoat reads.
type ServerMetadata struct {
	Issuer                string   `json:"issuer"`
	JWKSURI               string   `json:"jwks_uri"`
	TokenEndpoint         string   `json:"token_endpoint"`
	IntrospectionEndpoint string   `json:"introspection_endpoint"`
	ScopesSupported       []string `json:"scopes_supported"`
	// SigningAlgorithms are the provider's id_token_signing_alg_values_supported;
	// access tokens usually share them.
	SigningAlgorithms []string `json:"id_token_signing_alg_values_supported"`
}

// MetadataURLs are where an issuer's metadata may be, in the order tried:
// OpenID Connect discovery (issuer + /.well-known/openid-configuration),
// then RFC 8414's form (the well-known part inserted before the issuer's
// path), then OpenID's document at RFC 8414's position.
func MetadataURLs(issuer string) ([]string, error) {
	u, err := url.Parse(issuer)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("issuer %q is not an absolute URL", issuer)
	}
	path := strings.TrimSuffix(u.Path, "/")
	at := func(p string) string {
		v := *u
		v.Path, v.RawPath, v.RawQuery, v.Fragment = p, "", "", ""
		return v.String()
	}
	urls := []string{at(path + "/.well-known/openid-configuration"), at("/.well-known/oauth-authorization-server" + path)}
	if path != "" {
		urls = append(urls, at("/.well-known/openid-configuration"+path))
	}
	return urls, nil
}

// Discover fetches the issuer's metadata from the first of MetadataURLs
// that answers, and checks that it names the same issuer (a document
// claiming another issuer would let that one's keys in).
func Discover(ctx context.Context, c *http.Client, issuer string) (*ServerMetadata, error) {
	urls, err := MetadataURLs(issuer)
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, u := range urls {
		var m ServerMetadata
		if err := getJSON(ctx, c, u, &m); err != nil {
			errs = append(errs, err)
			continue
		}
		if m.Issuer != issuer {
			return nil, fmt.Errorf("%s names issuer %q, not %q", u, m.Issuer, issuer)
		}
		return &m, nil
	}
	return nil, fmt.Errorf("discovering %s: %w", issuer, errors.Join(errs...))
}
