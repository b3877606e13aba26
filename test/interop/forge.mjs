// forge.mjs makes hostile JWTs with an implementation independent of
// gatehouse's (the `jose` package). It reads a JSON description of the
// trusted issuers on stdin and prints {"case name": "token", ...} on stdout.
//
// Input: {issuerA, issuerB, audience, now, canary,
//         rsaA, ecA, rsaB  (private JWKs with kid, trusted by the verifier),
//         rsaAPublicPEM    (issuer A's RSA public key, SPKI PEM)}
// "valid" is a well-formed token of issuer A; every other case must be refused.
import { SignJWT, UnsecuredJWT, importJWK, generateKeyPair, exportJWK } from 'jose';

const input = JSON.parse(await new Promise((resolve, reject) => {
  let data = '';
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (c) => { data += c; });
  process.stdin.on('end', () => resolve(data));
  process.stdin.on('error', reject);
}));

const { issuerA, issuerB, audience, now, canary } = input;
const rsaA = await importJWK(input.rsaA, 'RS256');
const ecA = await importJWK(input.ecA, 'ES256');
const rsaB = await importJWK(input.rsaB, 'RS256');
const attackerEC = (await generateKeyPair('ES256')).privateKey;
const attackerRSA = (await generateKeyPair('RS256')).privateKey;
const attackerECPublic = await exportJWK((await generateKeyPair('ES256')).publicKey);

const b64 = (v) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
const claims = (over = {}) => {
  const c = { iss: issuerA, aud: audience, sub: 'mallory', roles: ['admin'], iat: now, exp: now + 3600, ...over };
  for (const [k, v] of Object.entries(c)) if (v === undefined) delete c[k];
  return c;
};
const sign = (key, header, body = claims(), opts) => new SignJWT(body).setProtectedHeader(header).sign(key, opts);
const rs = (body, extra = {}) => sign(rsaA, { alg: 'RS256', kid: input.rsaA.kid, ...extra }, body);

const out = {};
out.valid = await rs(claims({ sub: 'alice', roles: ['viewer'] }));
const [vh, vp, vs] = out.valid.split('.');

// alg none, in the casings seen in the wild, with and without a signature.
out.alg_none_jose = new UnsecuredJWT(claims()).encode();
for (const alg of ['none', 'None', 'NONE', 'nOnE']) {
  out[`alg_${alg}_empty_sig`] = `${b64({ alg, typ: 'JWT' })}.${b64(claims())}.`;
}
out.alg_none_with_sig = `${b64({ alg: 'none', kid: input.rsaA.kid })}.${b64(claims())}.${vs}`;
out.alg_missing = `${b64({ kid: input.rsaA.kid })}.${vp}.${vs}`;

// HMAC with the RSA public key as the shared secret (key confusion).
const pemSecret = new TextEncoder().encode(input.rsaAPublicPEM);
out.hs256_public_key_secret = await sign(pemSecret, { alg: 'HS256', kid: input.rsaA.kid });
out.hs256_public_key_secret_no_kid = await sign(pemSecret, { alg: 'HS256' });
out.hs512_public_key_secret = await sign(pemSecret, { alg: 'HS512', kid: input.rsaA.kid });

// alg / key type mismatch: the header names a key of another type.
out.es256_header_rsa_kid = await sign(attackerEC, { alg: 'ES256', kid: input.rsaA.kid });
out.rs256_header_ec_kid = await sign(attackerRSA, { alg: 'RS256', kid: input.ecA.kid });
out.ps256_header_ec_kid = await sign(attackerRSA, { alg: 'PS256', kid: input.ecA.kid });
out.es256_header_rsa_sig = `${b64({ alg: 'ES256', kid: input.rsaA.kid })}.${vp}.${vs}`;

// Audience, issuer and time claims.
out.aud_missing = await rs(claims({ aud: undefined }));
out.aud_wrong = await rs(claims({ aud: 'another-service' }));
out.aud_array_wrong = await rs(claims({ aud: ['x', 'y'] }));
out.aud_number = await rs(claims({ aud: 42 }));
out.iss_unknown = await rs(claims({ iss: 'https://evil.example' }));
out.iss_missing = await rs(claims({ iss: undefined }));
out.iss_b_signed_by_a = await rs(claims({ iss: issuerB }));
out.iss_a_signed_by_b = await sign(rsaB, { alg: 'RS256', kid: input.rsaB.kid }, claims());
out.iss_a_signed_by_b_with_a_kid = await sign(rsaB, { alg: 'RS256', kid: input.rsaA.kid }, claims());
out.expired = await rs(claims({ iat: now - 7200, exp: now - 3600 }));
out.exp_missing = await rs(claims({ exp: undefined }));
out.exp_string = await rs(claims({ exp: String(now + 3600) }));
out.nbf_future = await rs(claims({ nbf: now + 3600 }));
out.iat_future = await rs(claims({ iat: now + 3600 }));

// Integrity and structure.
out.tampered_payload = `${vh}.${b64(claims({ sub: 'alice', roles: ['admin'] }))}.${vs}`;
out.tampered_signature = `${vh}.${vp}.${vs.slice(0, -4)}${vs.slice(-4) === 'AAAA' ? 'BBBB' : 'AAAA'}`;
out.signed_by_attacker_with_a_kid = await sign(attackerRSA, { alg: 'RS256', kid: input.rsaA.kid });
out.truncated_two_segments = `${vh}.${vp}`;
out.truncated_one_segment = `${vh}`;
out.extra_segment = `${out.valid}.${vs}`;
out.five_segments_jwe_like = `${vh}.${vp}.${vs}.${vs}.${vs}`;
out.payload_not_object = `${vh}.${b64('["a"]')}.${vs}`;
out.header_not_json = `${b64('{"alg":"RS256"')}.${vp}.${vs}`;
out.oversized = await rs(claims({ pad: 'x'.repeat(9 * 1024) }));

// Headers that must never be followed or trusted.
out.crit_unknown = await sign(rsaA, { alg: 'RS256', kid: input.rsaA.kid, crit: ['x-gate'], 'x-gate': 1 }, claims(), { crit: { 'x-gate': true } });
out.jku_canary = await sign(attackerRSA, { alg: 'RS256', kid: 'attacker', jku: `${canary}/jwks.json` });
out.jku_canary_trusted_kid = await sign(rsaA, { alg: 'RS256', kid: input.rsaA.kid, jku: `${canary}/jwks.json` });
out.x5u_canary = await sign(attackerRSA, { alg: 'RS256', kid: 'attacker', x5u: `${canary}/cert.pem` });
out.embedded_jwk = await sign(attackerEC, { alg: 'ES256', jwk: attackerECPublic });
out.embedded_jwk_with_a_kid = await sign(attackerEC, { alg: 'ES256', kid: input.ecA.kid, jwk: attackerECPublic });
out.x5c_bogus = await sign(attackerRSA, { alg: 'RS256', x5c: ['MIIBszCCAVmgAwIBAgIUB'] });

// Hostile key ids.
out.kid_path_traversal = await sign(attackerRSA, { alg: 'RS256', kid: '../../../../etc/passwd' });
out.kid_nul = await sign(attackerRSA, { alg: 'RS256', kid: `${input.rsaA.kid}\u0000` });
out.kid_10k = await sign(attackerRSA, { alg: 'RS256', kid: 'k'.repeat(10 * 1024) });
out.kid_sql = await sign(attackerRSA, { alg: 'RS256', kid: "' OR 1=1 --" });

// ECDSA signature with r = s = 0 ("psychic signatures", CVE-2022-21449).
out.ecdsa_zero_sig = `${b64({ alg: 'ES256', kid: input.ecA.kid })}.${b64(claims())}.${Buffer.alloc(64).toString('base64url')}`;
out.ecdsa_zero_sig_short = `${b64({ alg: 'ES256', kid: input.ecA.kid })}.${b64(claims())}.${Buffer.alloc(2).toString('base64url')}`;

process.stdout.write(JSON.stringify(out));
