// idp.mjs runs a real OpenID provider (npm `oidc-provider`) on a loopback
// port for gatehouse's interop tests. It prints {"issuer": ..., "port": ...}
// on its first stdout line once it is listening.
//
// - client `gatehouse-test` / `interop-secret` may use client_credentials;
//   tokens for resource `urn:gatehouse` are RFC 9068 JWT access tokens with
//   aud "gatehouse", typ "at+jwt", roles ["agent"], signed RS256.
// - client `gatehouse-console` is a public client (no secret) for the web
//   console: authorization code with PKCE (S256), its redirect URI set by
//   POST /admin/console-client {"redirect_uri": ...} (the console's port is
//   known only once gatehouse listens), CORS allowed from that origin. The
//   provider's sign-in and consent pages are stood in for by
//   /interaction/{uid}, which signs in the user `console-user` at once and
//   grants openid and the resource's scopes: the browser still goes through
//   the provider's real authorization and token endpoints.
// - POST /admin/rotate: a new key signs from now on; the old one stays
//   published. POST /admin/drop-old: only the current key stays published.
//   GET /admin/stats: {"jwksFetches": n, "kid": current signing kid}.
//
// Usage: node idp.mjs [port]   (default 0: any free port). Listens on
// 127.0.0.1 only.
import http from 'node:http';
import { generateKeyPair, exportJWK } from 'jose';
import Provider, { errors } from 'oidc-provider';

const RESOURCE = 'urn:gatehouse';
const AUDIENCE = 'gatehouse';

const server = http.createServer();
await new Promise((resolve) => server.listen(Number(process.argv[2] || 0), '127.0.0.1', resolve));
const { port } = server.address();
const issuer = `http://127.0.0.1:${port}`;

let generation = 0;
async function newKey() {
  generation += 1;
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  return { ...(await exportJWK(privateKey)), kid: `interop-${generation}`, alg: 'RS256', use: 'sig' };
}

let keys = [await newKey()];
let jwksFetches = 0;
let consoleRedirects = [];
let provider;

function build() {
  const current = keys[0].kid;
  const clients = [{
    client_id: 'gatehouse-test',
    client_secret: 'interop-secret',
    grant_types: ['client_credentials'],
    redirect_uris: [],
    response_types: [],
    token_endpoint_auth_method: 'client_secret_basic',
  }];
  if (consoleRedirects.length) {
    clients.push({
      client_id: 'gatehouse-console',
      application_type: 'web',
      grant_types: ['authorization_code'],
      response_types: ['code'],
      redirect_uris: consoleRedirects,
      token_endpoint_auth_method: 'none',
    });
  }
  const origins = consoleRedirects.map((u) => new URL(u).origin);
  provider = new Provider(issuer, {
    clients,
    clientBasedCORS: (ctx, origin, client) => client.clientId === 'gatehouse-console' && origins.includes(origin),
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    findAccount: (ctx, sub) => ({ accountId: sub, claims: () => ({ sub }) }),
    pkce: { required: () => true },
    jwks: { keys },
    cookies: { keys: ['interop-only-cookie-key'] },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => RESOURCE,
        useGrantedResource: () => true,
        getResourceServerInfo: (ctx, resource) => {
          if (resource !== RESOURCE) throw new errors.InvalidTarget();
          return {
            scope: 'read write',
            audience: AUDIENCE,
            accessTokenTTL: 600,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'RS256', kid: current } },
          };
        },
      },
    },
    extraTokenClaims: () => ({ roles: ['agent'] }),
  });
  return provider.callback();
}

let handler = build();

function reply(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

// signInConsoleUser finishes the provider's login and consent prompts for
// the one test user.
async function signInConsoleUser(req, res) {
  const details = await provider.interactionDetails(req, res);
  if (details.prompt.name === 'login') {
    return provider.interactionFinished(req, res, { login: { accountId: 'console-user' } }, { mergeWithLastSubmission: false });
  }
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
  grant.addOIDCScope('openid');
  grant.addResourceScope(RESOURCE, 'read write');
  const grantId = await grant.save();
  return provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
}

async function body(req) {
  let data = '';
  for await (const chunk of req) data += chunk;
  return JSON.parse(data || '{}');
}

server.on('request', async (req, res) => {
  try {
    if (req.url === '/admin/console-client' && req.method === 'POST') {
      consoleRedirects = [(await body(req)).redirect_uri];
      handler = build();
      return reply(res, 200, { client_id: 'gatehouse-console' });
    }
    if (req.url.startsWith('/interaction/') && req.method === 'GET') {
      return await signInConsoleUser(req, res);
    }
    if (req.url === '/admin/rotate' && req.method === 'POST') {
      keys = [await newKey(), ...keys];
      handler = build();
      return reply(res, 200, { kid: keys[0].kid });
    }
    if (req.url === '/admin/drop-old' && req.method === 'POST') {
      keys = keys.slice(0, 1);
      handler = build();
      return reply(res, 200, { kid: keys[0].kid });
    }
    if (req.url === '/admin/stats') {
      return reply(res, 200, { jwksFetches, kid: keys[0].kid });
    }
    if (req.url.startsWith('/jwks')) jwksFetches += 1;
    return handler(req, res);
  } catch (err) {
    return reply(res, 500, { error: String(err) });
  }
});

process.on('SIGTERM', () => server.close(() => process.exit(0)));
process.stdout.write(`${JSON.stringify({ issuer, port })}\n`);
