// api.js calls the Gatehouse API with the tab's bearer token. A token the
// server refuses ends the sign-in.
import { token, expire } from './auth.js';

export class APIError extends Error {
  constructor(status, body) {
    super(body?.detail || body?.error?.message || `HTTP ${status}`);
    this.status = status;
    this.code = body?.error?.code || body?.error || '';
    this.body = body;
  }
}

function invalidCredential(err) {
  return err.code === 'invalid_token' || err.code === 'missing_token';
}

// call sends one request; it resolves to the Response when it is 2xx.
export async function call(path, { method = 'GET', body, signal, accept = 'application/json' } = {}) {
  const headers = { Authorization: `Bearer ${token()}`, Accept: accept };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(path, {
    method, headers, signal,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'omit', cache: 'no-store', referrerPolicy: 'no-referrer',
  });
  if (res.ok) return res;
  let data = null;
  try { data = await res.json(); } catch { /* not JSON */ }
  const err = new APIError(res.status, data);
  if (invalidCredential(err)) expire();
  throw err;
}

export async function getJSON(path, opts) {
  const res = await call(path, opts);
  return res.json();
}

// events reads a server-sent event stream from res, calling
// onEvent(name, data) for each event. fetch, not EventSource: EventSource
// cannot send the Authorization header.
export async function events(res, onEvent) {
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += value.replace(/\r\n?/g, '\n');
    let i;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const chunk = buf.slice(0, i);
      buf = buf.slice(i + 2);
      let name = 'message';
      const data = [];
      for (const line of chunk.split('\n')) {
        if (line.startsWith('event:')) name = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
      }
      if (data.length === 0) continue;
      let parsed;
      try { parsed = JSON.parse(data.join('\n')); } catch { parsed = data.join('\n'); }
      onEvent(name, parsed);
    }
  }
}
