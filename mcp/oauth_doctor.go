package mcp

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/pgmoat/pgmoat/introspect"
	"github.com/pgmoat/pgmoat/mcp/oauth"
)

// CheckProvider is doctor's look at the OAuth provider opts name: its
// metadata reachable and naming the issuer, its key set fetched and
// holding keys for the accepted algorithms, its introspection endpoint
// answering. Problems are warnings: serve starts without the provider and
// keeps asking.
func CheckProvider(ctx context.Context, opts AuthOptions) []introspect.Finding {
	j := opts.JWT
	var out []introspect.Finding
	add := func(check string, sev introspect.Severity, format string, args ...any) {
		out = append(out, introspect.Finding{Check: check, Severity: sev, Message: fmt.Sprintf(format, args...)})
	}
	client := opts.Client
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if j != nil && j.Provider() {
		jwks := j.JWKSURL
		if j.Issuer != "" {
			m, err := oauth.Discover(ctx, client, j.Issuer)
			switch {
			case err != nil && jwks == "":
				add("oauth.discovery", introspect.Warning, "%v", err)
			case err != nil:
				add("oauth.discovery", introspect.Note, "no metadata for %s (jwks_url is set, so none is needed)", j.Issuer)
			default:
				add("oauth.discovery", introspect.Note, "%s publishes its metadata (token endpoint %s)", m.Issuer, m.TokenEndpoint)
				if jwks == "" {
					jwks = m.JWKSURI
				}
			}
		}
		if jwks != "" {
			out = append(out, checkKeys(ctx, client, jwks, j.Algorithms)...)
		}
	}
	if in := opts.Introspection; in != nil {
		out = append(out, checkIntrospection(ctx, *in, client))
	}
	return out
}

func checkKeys(ctx context.Context, client *http.Client, url string, names []string) []introspect.Finding {
	ks := oauth.NewKeySet(oauth.KeySetOptions{URL: url, Client: client})
	ks.Start(ctx)
	defer ks.Close()
	st := ks.Status()
	if st.LastErr != nil {
		return []introspect.Finding{{Check: "oauth.keys", Severity: introspect.Warning, Message: st.String()}}
	}
	algs, _ := oauth.ParseAlgorithms(names)
	usable, missing := ks.Algorithms(algs)
	f := []introspect.Finding{{Check: "oauth.keys", Severity: introspect.Note,
		Message: fmt.Sprintf("%s; key ids %s", st, strings.Join(st.KeyIDs, ", "))}}
	if len(usable) == 0 {
		f = append(f, introspect.Finding{Check: "oauth.algorithms", Severity: introspect.Warning,
			Message: "no key in the set suits any accepted algorithm (" + strings.Join(missing, ", ") + "): every token would be refused"})
	} else {
		f = append(f, introspect.Finding{Check: "oauth.algorithms", Severity: introspect.Note,
			Message: "tokens verify with " + strings.Join(usable, ", ")})
	}
	return f
}

func checkIntrospection(ctx context.Context, o oauth.IntrospectorOptions, client *http.Client) introspect.Finding {
	o.Client = client
	in, err := oauth.NewIntrospector(o)
	if err == nil {
		err = in.Probe(ctx)
	}
	if err != nil {
		return introspect.Finding{Check: "oauth.introspection", Severity: introspect.Warning, Message: err.Error()}
	}
	return introspect.Finding{Check: "oauth.introspection", Severity: introspect.Note,
		Message: o.URL + " answers pgmoat's client credentials"}
}
