// Package oidc runs a real OpenID provider on loopback for pgmoat's OAuth
// tests: the certified npm package oidc-provider, under the Node.js 22 it
// supports (both installed from npm into a cache directory), started by
// provider.mjs with client-credentials clients (and authorization-code
// clients whose user signs in without a form, for clients that only run
// the browser flow: Browse plays the browser) and signing keys this
// package generates, so that a test can also forge tokens with the
// provider's own keys (wrong issuer, expired) or with keys it does not
// publish. Rotate swaps the signing keys while the provider runs; Stop
// takes it down.
package oidc
