// A real OpenID provider (the certified npm package oidc-provider) on
// loopback, for pgmoat's OAuth tests. Usage: node provider.mjs CONFIG.json
//
// CONFIG holds the port, the issuer, the resource (the default RFC 8707
// audience), the scopes, the clients (client_credentials, each with the
// user id its tokens carry in the user_id claim, the signing algorithm,
// the lifetime and the token format) and the private signing keys. A
// client with redirect URIs uses the authorization-code flow instead; its
// user signs in without a form: the login and consent interactions
// approve at once, as the account user_id, granting the scopes asked for,
// so that a test can play the user's browser.
//
// Besides the provider's own endpoints it answers, for the test only:
//   POST /-/rotate  body: a private JWKS; the provider signs with the
//                   first key of each type from then on
//   GET  /-/stats   {"jwks": number of key-set requests served}
import fs from 'node:fs';
import http from 'node:http';
import Provider from 'oidc-provider';

const cfg = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
let jwksRequests = 0;

function build(keys) {
  return new Provider(cfg.issuer, {
    clients: cfg.clients,
    extraClientMetadata: { properties: ['user_id', 'token_alg', 'token_ttl', 'token_format'] },
    jwks: { keys },
    scopes: cfg.scopes,
    interactions: { url: (ctx, interaction) => `/-/interaction/${interaction.uid}` },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => cfg.resource,
        useGrantedResource: () => true,
        getResourceServerInfo: (ctx, resource, client) => ({
          scope: cfg.scopes.join(' '),
          audience: resource,
          accessTokenTTL: client.token_ttl || 300,
          accessTokenFormat: client.token_format || 'jwt',
          jwt: { sign: { alg: client.token_alg || 'RS256' } },
        }),
      },
    },
    // The signed-in user's account (authorization code), else the client's.
    extraTokenClaims: (ctx, token) => (ctx.oidc.client ? { user_id: token.accountId ?? ctx.oidc.client.user_id } : {}),
  });
}

let provider = build(cfg.keys);
let callback = provider.callback();

// approve finishes a login or consent interaction at once: the user
// signs in as the client's user_id and consents to what was asked.
async function approve(req, res) {
  const details = await provider.interactionDetails(req, res);
  const { prompt, params, session } = details;
  const client = await provider.Client.find(params.client_id);
  let result;
  if (prompt.name === 'login') {
    result = { login: { accountId: client.user_id } };
  } else {
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    if (prompt.details.missingOIDCScope) grant.addOIDCScope(prompt.details.missingOIDCScope.join(' '));
    for (const [resource, scopes] of Object.entries(prompt.details.missingResourceScopes ?? {})) {
      grant.addResourceScope(resource, scopes.join(' '));
    }
    result = { consent: { grantId: await grant.save() } };
  }
  await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: true });
}

const server = http.createServer((req, res) => {
  if (req.url === '/-/stats') {
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify({ jwks: jwksRequests }));
    return;
  }
  if (req.url === '/-/rotate' && req.method === 'POST') {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      provider = build(JSON.parse(body).keys);
      callback = provider.callback();
      res.end('rotated\n');
    });
    return;
  }
  if (req.url.startsWith('/-/interaction/')) {
    approve(req, res).catch((err) => {
      res.statusCode = 500;
      res.end(`interaction: ${err}\n`);
    });
    return;
  }
  if (req.url.startsWith('/jwks')) jwksRequests++;
  callback(req, res);
});
server.listen(cfg.port, '127.0.0.1', () => {
  console.log(`provider listening on ${cfg.issuer}`);
});
