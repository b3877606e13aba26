// oidc.js signs in by OpenID Connect authorization code with PKCE, as a
// public client. The browser checks state, nonce, issuer and the ID token's
// audience; it cannot check the ID token's signature without a JOSE
// library, and needs not: the access token is what the console sends, and
// Gatehouse verifies its signature, issuer, audience and expiry on every
// call (auth.jwt.issuers).

const PENDING = 'gatehouse.oidc';

function b64url(bytes) {
  let s = '';
  for (const b of new Uint8Array(bytes)) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function random() { return b64url(crypto.getRandomValues(new Uint8Array(32))); }

async function discover(issuer) {
  const res = await fetch(`${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`,
    { credentials: 'omit', referrerPolicy: 'no-referrer' });
  if (!res.ok) throw new Error(`The identity provider's configuration could not be read (HTTP ${res.status}).`);
  const doc = await res.json();
  if (doc.issuer !== issuer) throw new Error('The identity provider names another issuer than the one configured.');
  return doc;
}

export function redirectURI() { return `${location.origin}/console/`; }

// begin sends the browser to the identity provider.
export async function begin(cfg) {
  const doc = await discover(cfg.issuer);
  const verifier = random();
  const challenge = b64url(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)));
  const pending = { state: random(), nonce: random(), verifier, issuer: cfg.issuer, client_id: cfg.client_id };
  sessionStorage.setItem(PENDING, JSON.stringify(pending));
  const u = new URL(doc.authorization_endpoint);
  u.search = new URLSearchParams({
    response_type: 'code', client_id: cfg.client_id, redirect_uri: redirectURI(),
    scope: ['openid', ...(cfg.scopes || [])].join(' '),
    state: pending.state, nonce: pending.nonce,
    code_challenge: challenge, code_challenge_method: 'S256',
  }).toString();
  location.assign(u.toString());
}

export function isCallback(params) { return params.has('state') && (params.has('code') || params.has('error')); }

// complete finishes a sign-in from the provider's redirect and returns the
// access token.
export async function complete(params) {
  const pending = JSON.parse(sessionStorage.getItem(PENDING) || 'null');
  sessionStorage.removeItem(PENDING);
  if (!pending || params.get('state') !== pending.state) {
    throw new Error('This sign-in response was not started in this tab (state mismatch). Please sign in again.');
  }
  if (params.get('error')) {
    throw new Error(`The identity provider refused the sign-in: ${params.get('error_description') || params.get('error')}`);
  }
  if (params.has('iss') && params.get('iss') !== pending.issuer) {
    throw new Error('The sign-in response came from another issuer.');
  }
  const doc = await discover(pending.issuer);
  const res = await fetch(doc.token_endpoint, {
    method: 'POST', credentials: 'omit', referrerPolicy: 'no-referrer',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
    body: new URLSearchParams({
      grant_type: 'authorization_code', code: params.get('code'), redirect_uri: redirectURI(),
      client_id: pending.client_id, code_verifier: pending.verifier,
    }),
  });
  const tok = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(`The token exchange failed: ${tok.error_description || tok.error || res.status}`);
  checkIDToken(tok.id_token, pending);
  if (!tok.access_token) throw new Error('The identity provider returned no access token.');
  return tok.access_token;
}

function checkIDToken(idToken, pending) {
  const parts = (idToken || '').split('.');
  if (parts.length !== 3) throw new Error('The identity provider returned no ID token.');
  const b64 = parts[1].replace(/-/g, '+').replace(/_/g, '/');
  const claims = JSON.parse(new TextDecoder().decode(Uint8Array.from(atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4)), (c) => c.charCodeAt(0))));
  const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (claims.iss !== pending.issuer) throw new Error('The ID token names another issuer.');
  if (!aud.includes(pending.client_id) || (aud.length > 1 && claims.azp !== pending.client_id)) {
    throw new Error('The ID token was issued to another client (audience).');
  }
  if (claims.nonce !== pending.nonce) throw new Error('The ID token does not answer this sign-in (nonce mismatch).');
  if (typeof claims.exp !== 'number' || claims.exp * 1000 < Date.now() - 60000) throw new Error('The ID token has expired.');
}
