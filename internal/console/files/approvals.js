// approvals.js: the calls waiting for a decision the signed-in user may
// make. Approval is bound to the exact arguments: the hash shown is the one
// sent back.
import { h, clear, field, pretty, fmtTime } from './dom.js';
import { call, getJSON, APIError } from './api.js';

export function approvalsPage(root) {
  const list = h('ul', { class: 'approvals', 'aria-live': 'polite' });
  const status = h('p', { class: 'status-line', role: 'status' });
  const refresh = h('button', { type: 'button' }, 'Refresh');
  const ctl = new AbortController();
  let timer = 0;
  let busy = false;

  clear(root, h('section', { 'aria-labelledby': 'approvals-title' },
    h('div', { class: 'bar' }, h('h1', { id: 'approvals-title' }, 'Approvals'), refresh),
    h('p', { class: 'hint' }, 'Calls paused for a person\'s decision. The requester\'s chat continues as soon as you decide.'),
    status, list));

  async function load() {
    if (busy) return;
    try {
      const data = await getJSON('/v1/approvals', { signal: ctl.signal });
      const items = Array.isArray(data) ? data : data.approvals || data.data || [];
      // Keep a card someone is typing a comment into.
      if (list.contains(document.activeElement) && document.activeElement.tagName === 'TEXTAREA') return;
      clear(list, ...items.map(card));
      status.textContent = items.length ? `${items.length} pending` : 'Nothing waits for your decision.';
    } catch (e) {
      if (e.name === 'AbortError') return;
      status.textContent = e instanceof APIError && e.status === 404
        ? 'This server does not offer approvals.'
        : `Approvals could not be loaded: ${e.message}`;
    }
  }

  function card(a) {
    const comment = h('textarea', { name: 'comment', rows: '2' });
    const msg = h('p', { class: 'error', role: 'alert' });
    msg.hidden = true;
    const requester = typeof a.requested_by === 'object' && a.requested_by
      ? [a.requested_by.subject, a.requested_by.method, a.requested_by.issuer].filter(Boolean).join(' · ')
      : String(a.requested_by || '');
    const decide = async (decision, btn) => {
      busy = true;
      btn.disabled = true;
      try {
        await call(`/v1/approvals/${encodeURIComponent(a.id)}`, { method: 'POST', signal: ctl.signal,
          body: { decision, args_sha256: a.args_sha256, comment: comment.value || undefined } });
        el.replaceChildren(h('p', { class: 'done' }, `${decision === 'approve' ? 'Approved' : 'Denied'}: ${a.tool} (${a.id})`));
      } catch (e) {
        msg.textContent = e.message; msg.hidden = false; btn.disabled = false;
      } finally {
        busy = false;
      }
    };
    const approve = h('button', { type: 'button', class: 'primary approve' }, 'Approve');
    const deny = h('button', { type: 'button', class: 'danger deny' }, 'Deny');
    approve.addEventListener('click', () => decide('approve', approve));
    deny.addEventListener('click', () => decide('deny', deny));
    const el = h('li', { class: 'card approval', 'data-id': a.id },
      h('h2', {}, a.tool, ' ', h('span', { class: 'mono small' }, a.id)),
      h('dl', {},
        h('dt', {}, 'Requested by'), h('dd', {}, requester),
        a.run_id ? [h('dt', {}, 'Run'), h('dd', { class: 'mono' }, a.run_id)] : null,
        h('dt', {}, 'Expires'), h('dd', {}, fmtTime(a.expires_at)),
        h('dt', {}, 'Arguments SHA-256'), h('dd', { class: 'mono hash' }, a.args_sha256 || '')),
      h('pre', { 'aria-label': 'Arguments' }, pretty(a.arguments ?? {})),
      field('Comment (optional)', comment), msg,
      h('div', { class: 'actions' }, approve, deny));
    return el;
  }

  refresh.addEventListener('click', load);
  load();
  timer = setInterval(load, 3000);
  return () => { ctl.abort(); clearInterval(timer); };
}
