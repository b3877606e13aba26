// Verifies a Gatehouse call token as a Node tool would, with `jose`: the
// signature against Gatehouse's JWKS, iss, aud, exp, the tool, and
// args_sha256 against the arguments the tool received. The snippet in
// docs/identity.md is this file's verifyCallToken.
//
// Input (env): JWKS_URL, ISSUER, AUDIENCE, TOOL, TOKEN, ARGS (JSON).
// Output: one JSON line {"ok": true, "sub", "jti", "act"} or {"ok": false, "error"}.
import { createHash } from 'node:crypto';
import { createRemoteJWKSet, jwtVerify } from 'jose';

// canonical is Gatehouse's canonical JSON: keys sorted, no whitespace.
function canonical(v) {
  if (Array.isArray(v)) return '[' + v.map(canonical).join(',') + ']';
  if (v && typeof v === 'object') {
    return '{' + Object.keys(v).sort().map((k) => JSON.stringify(k) + ':' + canonical(v[k])).join(',') + '}';
  }
  return JSON.stringify(v);
}

export async function verifyCallToken(token, args, { jwksUrl, issuer, audience, tool }) {
  const jwks = createRemoteJWKSet(new URL(jwksUrl));
  const { payload } = await jwtVerify(token, jwks, {
    issuer, audience, algorithms: ['ES256', 'EdDSA'], requiredClaims: ['exp', 'jti', 'args_sha256'],
  });
  if (payload.tool !== tool) throw new Error('token for another tool');
  const sum = createHash('sha256').update(canonical(args)).digest('hex');
  if (sum !== payload.args_sha256) throw new Error('arguments differ from the ones allowed');
  return payload; // refuse a payload.jti seen before (replay)
}

const env = process.env;
try {
  const p = await verifyCallToken(env.TOKEN, JSON.parse(env.ARGS), {
    jwksUrl: env.JWKS_URL, issuer: env.ISSUER, audience: env.AUDIENCE, tool: env.TOOL,
  });
  console.log(JSON.stringify({ ok: true, sub: p.sub, jti: p.jti, act: p.act }));
} catch (e) {
  console.log(JSON.stringify({ ok: false, error: String(e.message || e) }));
}
