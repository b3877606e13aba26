// idp.mjs runs a real OpenID provider (npm `oidc-provider`) on a loopback
// port for gatehouse's interop tests. It prints {"issuer": ..., "port": ...}
// on its first stdout line once it is listening.
//
// - client `gatehouse-test` / `interop-secret` may use client_credentials;
//   tokens for resource `urn:gatehouse` are RFC 9068 JWT access tokens with
//   aud "gatehouse", typ "at+jwt", roles ["agent"], signed RS256.
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

function build() {
  const current = keys[0].kid;
  const provider = new Provider(issuer, {
    clients: [{
      client_id: 'gatehouse-test',
      client_secret: 'interop-secret',
      grant_types: ['client_credentials'],
      redirect_uris: [],
      response_types: [],
      token_endpoint_auth_method: 'client_secret_basic',
    }],
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

server.on('request', async (req, res) => {
  try {
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
