// auth.js keeps the signed-in credential for this tab only: in
// sessionStorage, never in localStorage, a cookie or a URL.

const KEY = 'gatehouse.credential';
const SESSION = 'gatehouse.session';

let expiredHandler = () => {};
let timer = 0;

export function token() { return sessionStorage.getItem(KEY) || ''; }

export function signIn(credential) {
  sessionStorage.setItem(KEY, credential);
  watchExpiry(credential);
}

// signOut forgets the credential and everything of this tab's sign-in.
export function signOut() {
  clearTimeout(timer);
  sessionStorage.removeItem(KEY);
  sessionStorage.removeItem(SESSION);
}

export function onExpired(fn) { expiredHandler = fn; }

// expire ends a sign-in the server no longer accepts (or a token past its
// exp), back to the sign-in page with msg.
export function expire(msg) {
  signOut();
  expiredHandler(msg || 'Your sign-in has expired or is no longer accepted. Please sign in again.');
}

// jwtClaims reads a JWT's payload without verifying it: only to know when
// it expires. Gatehouse verifies every token on every call.
export function jwtClaims(tok) {
  const parts = tok.split('.');
  if (parts.length !== 3) return null;
  try {
    const b64 = parts[1].replace(/-/g, '+').replace(/_/g, '/');
    const bin = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
    const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return null;
  }
}

// watchExpiry signs out when a JWT's exp passes, with a clear message.
export function watchExpiry(tok) {
  clearTimeout(timer);
  const exp = jwtClaims(tok)?.exp;
  if (typeof exp !== 'number') return;
  const ms = exp * 1000 - Date.now();
  if (ms <= 0) { expire('Your token has expired. Please sign in again.'); return; }
  timer = setTimeout(() => expire('Your token has expired. Please sign in again.'), Math.min(ms, 2 ** 31 - 1));
}

// The chat session this tab continues.
export function sessionID() { return sessionStorage.getItem(SESSION) || ''; }
export function setSessionID(id) {
  if (id) sessionStorage.setItem(SESSION, id); else sessionStorage.removeItem(SESSION);
}
