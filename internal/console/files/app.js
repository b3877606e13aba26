// app.js starts the console: sign-in, the page router and the header.
import { h, clear, field } from './dom.js';
import * as auth from './auth.js';
import * as oidc from './oidc.js';
import { getJSON } from './api.js';
import { chatPage } from './chat.js';
import { approvalsPage } from './approvals.js';
import { auditPage } from './audit.js';
import { policyPage } from './policy.js';

// pages, in menu order, each with the permission its API calls need
// (internal/httpapi/routes.go). A page is shown, and its API called, only
// when the caller's roles grant that permission: the console never makes a
// request it knows the server refuses.
const pages = {
  chat: { render: chatPage, needs: 'respond' },
  approvals: { render: approvalsPage, needs: 'read' },
  audit: { render: auditPage, needs: 'audit.read' },
  policy: { render: policyPage, needs: 'admin' },
};

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const who = document.getElementById('who');
const signoutBtn = document.getElementById('signout');

let me = null; // the signed-in caller: /console/api/me
let config = { oidc: null };
let leave = null; // the current page's cleanup

// mayUse says whether the signed-in caller may use the page name.
function mayUse(name) {
  return !!me && Object.hasOwn(pages, name) && me.permissions.includes(pages[name].needs);
}

function setMe(m) {
  me = m;
  nav.hidden = !m;
  signoutBtn.hidden = !m;
  who.textContent = m ? `${m.subject} (${m.roles.join(', ') || 'no roles'})` : '';
  for (const a of nav.querySelectorAll('a')) a.hidden = !mayUse(a.dataset.page);
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
  if (location.hash === '#/signin') history.replaceState(null, '', '#/');
  route();
}

function route() {
  if (!me) { showSignIn(); return; }
  const [name, ...rest] = location.hash.replace(/^#\//, '').split('/');
  // A page the caller may not use (or none named): the first one they may.
  const page = mayUse(name) ? name : Object.keys(pages).find(mayUse);
  if (page !== name) history.replaceState(null, '', `#/${page || ''}`);
  for (const a of nav.querySelectorAll('a')) {
    if (a.dataset.page === page) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
  if (leave) { leave(); leave = null; }
  if (!page) {
    clear(main, h('section', { class: 'card', 'aria-labelledby': 'none-title' },
      h('h1', { id: 'none-title' }, 'Nothing to show'),
      h('p', {}, 'Your roles grant none of the permissions the console\'s pages need (respond, read, audit.read or admin). Ask an administrator if you need one.')));
    document.title = 'Gatehouse console';
    return;
  }
  clear(main);
  leave = pages[page].render(main, { me, args: rest.map(decodeURIComponent) }) || null;
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
