// audit.js: the audit log for audit.read — a filtered, paged table, a run's
// timeline, the chain check and export.
import { h, clear, field, badge, fmtTime, pretty } from './dom.js';
import { getJSON } from './api.js';

const TYPES = ['auth.failed', 'authz.decided', 'run.started', 'run.finished', 'tool.decided', 'tool.finished',
  'approval.requested', 'approval.decided', 'session.denied', 'config.reloaded', 'auth.suppressed'];
const PAGE = 25;

function select(name, options) {
  return h('select', { name }, h('option', { value: '' }, 'any'), ...options.map((o) => h('option', { value: o }, o)));
}

function isoOrEmpty(v) {
  if (!v) return '';
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? '' : d.toISOString();
}

export function auditPage(root, { args }) {
  if (args[0] === 'run' && args[1]) return timeline(root, args[1], args[2] || '', args[3] || '');
  const subject = h('input', { name: 'subject', type: 'text', autocomplete: 'off' });
  const type = select('type', TYPES);
  const decision = select('decision', ['allow', 'deny']);
  const since = h('input', { name: 'since', type: 'datetime-local', step: '1' });
  const until = h('input', { name: 'until', type: 'datetime-local', step: '1' });
  const filters = h('form', { class: 'filters', 'aria-label': 'Filters' },
    field('Subject', subject), field('Type', type), field('Decision', decision),
    field('Since', since), field('Until', until),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Apply'),
      h('button', { type: 'reset' }, 'Clear')));
  const tbody = h('tbody');
  const table = h('table', { class: 'events' },
    h('caption', { class: 'sr-only' }, 'Audit events, newest first'),
    h('thead', {}, h('tr', {}, ...['Time', 'Type', 'Subject', 'Decision', 'Resource', 'Rule / reason', 'Run', 'Witnessed'].map((c) => h('th', { scope: 'col' }, c)))),
    tbody);
  const prev = h('button', { type: 'button', disabled: true }, 'Newer');
  const next = h('button', { type: 'button', disabled: true }, 'Older');
  const pageInfo = h('span', { class: 'status-line', role: 'status' });
  const verifyBtn = h('button', { type: 'button', id: 'verify' }, 'Verify chain');
  const exportBtn = h('button', { type: 'button', id: 'export' }, 'Export (JSON lines)');
  const verifyOut = h('div', { class: 'verify', 'aria-live': 'polite' });
  const ctl = new AbortController();
  let cursors = ['']; // the cursor of each page shown so far

  clear(root, h('section', { 'aria-labelledby': 'audit-title' },
    h('div', { class: 'bar' }, h('h1', { id: 'audit-title' }, 'Audit log'), verifyBtn, exportBtn),
    verifyOut, filters,
    h('div', { class: 'table-wrap' }, table),
    h('div', { class: 'pager' }, prev, pageInfo, next)));

  function query(cursor, limit = PAGE) {
    const q = new URLSearchParams();
    if (subject.value.trim()) q.set('subject', subject.value.trim());
    if (type.value) q.set('type', type.value);
    if (decision.value) q.set('decision', decision.value);
    if (isoOrEmpty(since.value)) q.set('since', isoOrEmpty(since.value));
    if (isoOrEmpty(until.value)) q.set('until', isoOrEmpty(until.value));
    if (cursor) q.set('cursor', cursor);
    q.set('limit', String(limit));
    return `/admin/audit?${q}`;
  }

  async function show(i) {
    pageInfo.textContent = 'Loading…';
    try {
      const page = await getJSON(query(cursors[i]), { signal: ctl.signal });
      cursors = cursors.slice(0, i + 1);
      if (page.next_cursor) cursors.push(page.next_cursor);
      const witnessed = await witnessedSizes(page.events, ctl.signal);
      clear(tbody, ...page.events.map((e) => row(e, witnessed && (witnessed[e.chain_id] || {}))));
      if (!page.events.length) tbody.append(h('tr', {}, h('td', { colspan: '8' }, 'No events match.')));
      prev.disabled = i === 0;
      next.disabled = !page.next_cursor;
      prev.onclick = () => show(i - 1);
      next.onclick = () => show(i + 1);
      pageInfo.textContent = `Page ${i + 1} · ${page.events.length} events`;
    } catch (e) {
      if (e.name !== 'AbortError') pageInfo.textContent = `The log could not be read: ${e.message}`;
    }
  }

  function row(e, w) {
    const runLink = e.run_id
      ? h('a', { href: `#/audit/run/${encodeURIComponent(e.run_id)}/${encodeURIComponent(e.subject || '')}/${encodeURIComponent(e.time)}`, class: 'mono' }, e.run_id)
      : '';
    return h('tr', { 'data-type': e.type },
      h('td', { class: 'nowrap' }, fmtTime(e.time)),
      h('td', { class: 'mono' }, e.type),
      h('td', {}, e.subject || ''),
      h('td', {}, e.decision ? badge(e.decision) : e.outcome || ''),
      h('td', { class: 'mono' }, e.resource || ''),
      h('td', {}, [e.rule, e.reason].filter(Boolean).join(' — ')),
      h('td', {}, runLink),
      h('td', { class: 'witnessed' }, inclusion(e, w)));
  }

  filters.addEventListener('submit', (ev) => { ev.preventDefault(); cursors = ['']; show(0); });
  filters.addEventListener('reset', () => setTimeout(() => { cursors = ['']; show(0); }));

  verifyBtn.addEventListener('click', async () => {
    verifyBtn.disabled = true;
    clear(verifyOut, h('p', {}, 'Verifying…'));
    try {
      const r = await getJSON('/admin/audit/verify', { signal: ctl.signal });
      const heads = Object.entries(r.chains || {}).map(([id, c]) => h('li', { class: 'mono' }, `${id}: ${JSON.stringify(c)}`));
      const problems = (r.problems || []).map((p) => h('li', {}, pretty(p)));
      clear(verifyOut, h('div', { class: `card verify-result ${r.ok ? 'ok' : 'bad'}`, id: 'verify-result' },
        h('p', { class: 'verdict' }, r.ok ? `Chain intact: ${r.events} events verified.` : `Chain broken: ${r.problem_count || problems.length} problem(s).`),
        h('p', {}, `Signed checkpoints checked: ${r.checkpoints}`),
        heads.length ? [h('p', {}, 'Chain heads:'), h('ul', {}, heads)] : null,
        r.first_bad ? h('pre', {}, `First bad: ${pretty(r.first_bad)}`) : null,
        problems.length ? h('ul', { class: 'problems' }, problems) : null));
    } catch (e) {
      if (e.name !== 'AbortError') clear(verifyOut, h('p', { class: 'error', role: 'alert' }, `Verify failed: ${e.message}`));
    } finally {
      verifyBtn.disabled = false;
    }
  });

  exportBtn.addEventListener('click', async () => {
    exportBtn.disabled = true;
    try {
      const lines = [];
      let cursor = '';
      for (let n = 0; n < 1000; n++) {
        const page = await getJSON(query(cursor, 1000), { signal: ctl.signal });
        for (const e of page.events) lines.push(JSON.stringify(e));
        if (!page.next_cursor) break;
        cursor = page.next_cursor;
      }
      const url = URL.createObjectURL(new Blob([lines.join('\n') + '\n'], { type: 'application/x-ndjson' }));
      const a = h('a', { href: url, download: `gatehouse-audit-${new Date().toISOString().replace(/[:.]/g, '-')}.jsonl` });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
      pageInfo.textContent = `Exported ${lines.length} events.`;
    } catch (e) {
      if (e.name !== 'AbortError') pageInfo.textContent = `Export failed: ${e.message}`;
    } finally {
      exportBtn.disabled = false;
    }
  });

  show(0);
  return () => ctl.abort();
}

// witnessedSizes reads, for each chain of events, its latest checkpoint
// cosigned by a witness (GET /audit/checkpoint?cosigned=1, a signed note:
// origin, size, root, then signature lines, the log's first).
// Without witnesses (/ready has no audit_witness) nothing is asked.
async function witnessedSizes(events, signal) {
  const out = {};
  const ready = await fetch('/ready', { signal }).then((r) => (r.ok ? r.json() : {})).catch((e) => {
    if (e.name === 'AbortError') throw e;
    return {};
  });
  if (!ready.audit_witness) return null;
  for (const chain of new Set(events.map((e) => e.chain_id))) {
    try {
      const res = await fetch(`/audit/checkpoint?chain=${encodeURIComponent(chain)}&cosigned=1`, { signal });
      if (!res.ok) continue;
      const [body, sigs = ''] = (await res.text()).split('\n\n');
      const lines = body.split('\n');
      out[chain] = { size: Number(lines[1]), cosigners: sigs.split('\n').filter((l) => l.startsWith('— ')).slice(1).map((l) => l.split(' ')[1]) };
    } catch (e) {
      if (e.name === 'AbortError') throw e;
    }
  }
  return out;
}

// inclusion says whether e is in its chain's latest witnessed checkpoint
// (its receipt: GET /v1/audit/proof/CHAIN:SEQ).
function inclusion(e, w) {
  if (!w) return h('span', { class: 'muted' }, 'no witnesses');
  if (!w.size) return h('span', { class: 'muted' }, 'not yet');
  if (e.seq <= w.size) return h('span', { title: `in checkpoint of size ${w.size}, cosigned by ${w.cosigners.join(', ')}` }, `✓ in ${w.size}`);
  return h('span', { class: 'muted', title: `after the witnessed checkpoint of size ${w.size}` }, 'not yet');
}

// timeline draws one run: the caller, the run, each decision, each tool
// result and the answer. The log is queried by subject around the time of
// the event the run was opened from, and its events kept by run id (and the
// request id of the run's start, for the request's authorization).
function timeline(root, runID, subject, at) {
  const list = h('ol', { class: 'timeline', 'aria-label': `Timeline of run ${runID}` });
  const status = h('p', { class: 'status-line', role: 'status' }, 'Loading…');
  const ctl = new AbortController();
  clear(root, h('section', { 'aria-labelledby': 'tl-title' },
    h('div', { class: 'bar' }, h('h1', { id: 'tl-title' }, 'Run timeline'), h('a', { href: '#/audit', class: 'button' }, 'Back to the log')),
    h('p', { class: 'mono' }, runID), status, list));

  (async () => {
    const t = new Date(at);
    const q = new URLSearchParams({ limit: '1000' });
    if (subject) q.set('subject', subject);
    if (!Number.isNaN(t.getTime())) {
      q.set('since', new Date(t.getTime() - 3600e3).toISOString());
      q.set('until', new Date(t.getTime() + 3600e3).toISOString());
    }
    const found = [];
    let cursor = '';
    try {
      for (let n = 0; n < 20; n++) {
        if (cursor) q.set('cursor', cursor);
        const page = await getJSON(`/admin/audit?${q}`, { signal: ctl.signal });
        found.push(...page.events);
        if (!page.next_cursor) break;
        cursor = page.next_cursor;
      }
    } catch (e) {
      if (e.name !== 'AbortError') status.textContent = `The log could not be read: ${e.message}`;
      return;
    }
    const reqs = new Set(found.filter((e) => e.run_id === runID && e.request_id).map((e) => e.request_id));
    const evs = found.filter((e) => e.run_id === runID || (e.request_id && reqs.has(e.request_id) && !e.run_id))
      .sort((a, b) => (a.chain_id === b.chain_id ? a.seq - b.seq : new Date(a.time) - new Date(b.time)));
    clear(list, ...evs.map(node));
    status.textContent = `${evs.length} events`;
  })();
  return () => ctl.abort();
}

function node(e) {
  const kind = e.type.split('.')[0];
  const title = {
    'authz.decided': `${e.subject} asks for ${e.resource}`,
    'run.started': `run started by ${e.subject}${e.model ? ` on ${e.model}` : ''}`,
    'tool.decided': `decision on ${e.resource}`,
    'tool.finished': `${e.resource} returned`,
    'run.finished': 'answer',
    'approval.requested': `approval requested for ${e.resource}`,
    'approval.decided': `approval decided by ${e.subject}`,
  }[e.type] || e.type;
  return h('li', { class: `tl tl-${kind}`, 'data-type': e.type },
    h('div', { class: 'tl-head' }, h('span', { class: 'mono' }, e.type), ' ', e.decision ? badge(e.decision) : null,
      e.outcome ? badge(e.outcome === 'ok' ? 'allow' : 'deny', e.outcome) : null),
    h('div', { class: 'tl-title' }, title),
    h('div', { class: 'tl-meta' }, [fmtTime(e.time), e.latency_ms ? `${e.latency_ms} ms` : '',
      e.usage ? `${e.usage.total_tokens} tokens` : ''].filter(Boolean).join(' · ')),
    e.rule ? h('div', {}, h('span', { class: 'k' }, 'rule '), e.rule) : null,
    e.reason ? h('div', {}, h('span', { class: 'k' }, 'reason '), e.reason) : null,
    e.content ? h('details', {}, h('summary', {}, 'content (as recorded)'), h('pre', {}, pretty(e.content))) : null);
}
