// app.js starts the console: sign-in, the page router and the header.
import { h, clear, field } from './dom.js';
import * as auth from './auth.js';
import * as oidc from './oidc.js';
import { getJSON } from './api.js';
import { chatPage } from './chat.js';
import { approvalsPage } from './approvals.js';
import { auditPage } from './audit.js';
import { policyPage } from './policy.js';

const pages = { chat: chatPage, approvals: approvalsPage, audit: auditPage, policy: policyPage };
const needs = { audit: 'audit.read', policy: 'admin' };

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const who = document.getElementById('who');
const signoutBtn = document.getElementById('signout');

let me = null; // the signed-in caller: /console/api/me
let config = { oidc: null };
let leave = null; // the current page's cleanup

function setMe(m) {
  me = m;
  nav.hidden = !m;
  signoutBtn.hidden = !m;
  who.textContent = m ? `${m.subject} (${m.roles.join(', ') || 'no roles'})` : '';
  for (const a of nav.querySelectorAll('a')) {
    const need = a.dataset.needs;
    a.hidden = !m || (need && !m.permissions.includes(need));
  }
}

function showSignIn(message) {
  if (leave) { leave(); leave = null; }
  setMe(null);
  if (location.hash !== '#/signin') history.replaceState(null, '', '#/signin');
  const input = h('input', { type: 'password', name: 'credential', autocomplete: 'off', spellcheck: 'false', required: true });
  const err = h('p', { class: 'error', role: 'alert', id: 'signin-error' }, message || '');
  err.hidden = !message;
  const form = h('form', { class: 'card signin', 'aria-labelledby': 'signin-title' },
    h('h1', { id: 'signin-title' }, 'Sign in to Gatehouse'),
    err,
    field('API key or token', input, 'Kept for this tab only; sent as a bearer header.'),
    h('button', { type: 'submit', class: 'primary' }, 'Sign in'));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const cred = input.value.trim();
    if (!cred) return;
    auth.signIn(cred);
    input.value = '';
    await start('That key or token was not accepted.');
  });
  const parts = [form];
  if (config.oidc) {
    const btn = h('button', { type: 'button', class: 'primary', id: 'oidc-signin' }, `Sign in with ${config.oidc.issuer}`);
    btn.addEventListener('click', async () => {
      try { await oidc.begin(config.oidc); } catch (e) { clear(err, e.message); err.hidden = false; }
    });
    parts.push(h('div', { class: 'card signin' }, h('p', {}, 'Or use your organisation\'s sign-in:'), btn));
  }
  clear(main, ...parts);
  input.focus();
}

// start checks the stored credential and shows the page the URL names.
async function start(refusedMessage) {
  if (!auth.token()) { showSignIn(); return; }
  try {
    setMe(await getJSON('/console/api/me'));
  } catch (e) {
    auth.signOut();
    showSignIn(e.status === 401 || e.status === 403 ? refusedMessage || e.message : `The server could not be reached: ${e.message}`);
    return;
  }
  auth.watchExpiry(auth.token());
  if (!location.hash || location.hash === '#/signin') history.replaceState(null, '', '#/chat');
  route();
}

function route() {
  if (!me) { showSignIn(); return; }
  const [name, ...rest] = location.hash.replace(/^#\//, '').split('/');
  const page = pages[name] && (!needs[name] || me.permissions.includes(needs[name])) ? name : 'chat';
  for (const a of nav.querySelectorAll('a')) {
    if (a.dataset.page === page) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
  if (leave) { leave(); leave = null; }
  clear(main);
  leave = pages[page](main, { me, args: rest.map(decodeURIComponent) }) || null;
  document.title = `${page[0].toUpperCase()}${page.slice(1)} · Gatehouse console`;
}

signoutBtn.addEventListener('click', () => {
  auth.signOut();
  showSignIn('You are signed out.');
});
auth.onExpired((msg) => showSignIn(msg));
window.addEventListener('hashchange', () => { if (me) route(); });

async function boot() {
  try {
    const res = await fetch('config.json', { credentials: 'omit', cache: 'no-store' });
    config = await res.json();
  } catch { /* keys still work */ }
  const params = new URLSearchParams(location.search);
  if (oidc.isCallback(params)) {
    history.replaceState(null, '', location.pathname); // the code leaves the address bar
    try {
      auth.signIn(await oidc.complete(params));
    } catch (e) {
      auth.signOut();
      showSignIn(e.message);
      return;
    }
    await start('The identity provider\'s token was not accepted by Gatehouse.');
    return;
  }
  await start();
}

boot();
