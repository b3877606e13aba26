// policy.js: for admins, the role × tool matrix of the live config,
// "explain" — the decision the gate itself makes for a principal and a
// call (POST /admin/authz/explain) — and what reloading the config on disk
// would change (POST /admin/reload?dry_run=true). No policy is evaluated
// here.
import { h, clear, field, badge } from './dom.js';
import { call, getJSON } from './api.js';

const standingText = { allowed: 'allowed', conditional: 'conditional', denied: 'denied', approval: 'needs approval' };

export function policyPage(root) {
  const matrix = h('div', { class: 'table-wrap' });
  const status = h('p', { class: 'status-line', role: 'status' });
  const ctl = new AbortController();

  const roles = h('input', { name: 'roles', type: 'text', autocomplete: 'off', placeholder: 'customer' });
  const claims = h('textarea', { name: 'claims', rows: '2', spellcheck: 'false' }, '{}');
  const tool = h('select', { name: 'tool' });
  const args = h('textarea', { name: 'arguments', rows: '4', spellcheck: 'false' }, '{}');
  const out = h('div', { class: 'explain-out', 'aria-live': 'polite', id: 'explain-result' });
  const form = h('form', { class: 'card explain', 'aria-labelledby': 'explain-title' },
    h('h2', { id: 'explain-title' }, 'Explain a decision'),
    field('Roles (comma-separated)', roles),
    field('Claims (JSON object)', claims, 'e.g. {"customer_id": "C-100"}'),
    field('Tool', tool),
    field('Arguments (JSON object)', args),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Explain')),
    out);

  const dryOut = h('div', { 'aria-live': 'polite', id: 'dryrun-result' });
  const dry = h('div', { class: 'card dryrun', 'aria-labelledby': 'dryrun-title' },
    h('h2', { id: 'dryrun-title' }, 'Before reloading'),
    h('p', { class: 'hint' }, 'What the config file on disk would change: cells, conditions, and the tool decisions of the last week decided again under it. Nothing is applied.'),
    h('div', { class: 'actions' }, h('button', { type: 'button', id: 'dry-run' }, 'Check the config on disk')),
    dryOut);

  clear(root, h('section', { 'aria-labelledby': 'policy-title' },
    h('h1', { id: 'policy-title' }, 'Policy'),
    h('p', { class: 'hint' }, 'Who may call which tool, from the configuration serving now. Hover or focus a conditional cell for its condition.'),
    status, matrix, form, dry));

  dry.querySelector('#dry-run').addEventListener('click', async () => {
    clear(dryOut, h('p', { class: 'status-line', role: 'status' }, 'Checking…'));
    try {
      const res = await call('/admin/reload?dry_run=true', { method: 'POST', signal: ctl.signal });
      clear(dryOut, dryRunReport((await res.json()).report));
    } catch (err) {
      if (err.name !== 'AbortError') clear(dryOut, h('p', { class: 'error', role: 'alert' }, err.message));
    }
  });

  getJSON('/admin/authz/matrix', { signal: ctl.signal }).then((m) => {
    const cells = new Map(m.cells.map((c) => [`${c.role}\u0000${c.tool}`, c]));
    const table = h('table', { class: 'matrix', id: 'matrix' },
      h('caption', {}, `Roles × tools (config version ${m.config_version})`),
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Role'),
        ...m.tools.map((t) => h('th', { scope: 'col', title: `permission ${t.permission}` }, t.name)))),
      h('tbody', {}, ...m.roles.map((r) => h('tr', {}, h('th', { scope: 'row' }, r),
        ...m.tools.map((t) => {
          const c = cells.get(`${r}\u0000${t.name}`) || { standing: 'denied' };
          const standing = c.approval ? 'approval' : c.standing;
          const tip = [c.rule, c.condition && `condition: ${c.condition}`].filter(Boolean).join('\n');
          return h('td', { 'data-standing': standing, title: tip, tabindex: c.condition ? '0' : undefined, 'aria-label': `${r} / ${t.name}: ${standingText[standing]}${c.condition ? `, condition ${c.condition}` : ''}` },
            badge(standing, standingText[standing]));
        })))));
    matrix.replaceChildren(table);
    for (const t of m.tools) tool.append(h('option', { value: t.name }, t.name));
  }).catch((e) => { if (e.name !== 'AbortError') status.textContent = `The matrix could not be loaded: ${e.message}`; });

  // The gate's verdicts as the page names them.
  const verdictText = { allow: 'allowed', deny: 'denied', approval: 'needs approval' };
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    let c; let a;
    try { c = JSON.parse(claims.value || '{}'); } catch { clear(out, h('p', { class: 'error', role: 'alert' }, 'Claims must be a JSON object.')); return; }
    try { a = JSON.parse(args.value || '{}'); } catch { a = args.value; } // the gate's decoder says what is wrong
    try {
      const res = await call('/admin/authz/explain', { method: 'POST', signal: ctl.signal, body: {
        roles: roles.value.split(',').map((s) => s.trim()).filter(Boolean), claims: c, tool: tool.value,
        arguments: typeof a === 'string' ? a : JSON.stringify(a),
      } });
      const d = await res.json();
      clear(out, h('div', { class: `decision decision-${d.decision}` },
        h('p', { class: 'verdict' }, badge(d.decision, verdictText[d.decision] || 'denied'), ' ', d.tool,
          d.visible ? ' (offered to the model)' : ' (not offered to the model)'),
        h('dl', {},
          h('dt', {}, 'Rule'), h('dd', { class: 'rule' }, d.rule || '—'),
          h('dt', {}, 'Reason'), h('dd', { class: 'reason' }, d.reason || '—'),
          h('dt', {}, 'Status'), h('dd', {}, d.status),
          d.permission ? [h('dt', {}, 'Permission'), h('dd', { class: 'mono' }, d.permission)] : null,
          d.condition ? [h('dt', {}, 'Condition'), h('dd', { class: 'mono' }, d.condition)] : null)));
    } catch (err) {
      if (err.name !== 'AbortError') clear(out, h('p', { class: 'error', role: 'alert' }, err.message));
    }
  });
  return () => ctl.abort();
}

// dryRunReport shows a policy diff report (gatehouse policy diff).
function dryRunReport(d) {
  const list = (cls, items, empty) => (items.length
    ? h('ul', { class: cls }, ...items)
    : h('p', { class: `${cls} hint` }, empty));
  const r = d.replay;
  return h('div', {},
    h('h3', {}, 'Cells that change'),
    list('cells', d.cells.map((c) => h('li', {}, `${c.role} × ${c.tool}: ${c.from} → ${c.to}`)), 'None.'),
    h('h3', {}, 'Conditions that change'),
    list('conditions', d.conditions.map((c) => h('li', { class: 'mono' }, `${c.key}: ${c.from || '(none)'} → ${c.to || '(none)'}`)), 'None.'),
    h('h3', {}, 'Recorded decisions'),
    h('p', { class: 'replay-summary' }, `${r.decisions} recorded, ${r.replayed} decided again, ${r.changed} would change.`),
    list('changes', r.changes.map((g) => h('li', {}, `${g.tool}, roles [${g.roles}]: ${g.from} → ${g.to}: ${g.count}`,
      h('ul', {}, ...g.examples.map((ex) => h('li', { class: 'mono' }, `${ex.chain_id} seq ${ex.seq} by ${ex.subject}: now ${ex.to_rule}`))))), 'No verdict would change.'),
    list('not-replayed', r.not_replayed.map((s) => h('li', {}, `not decided again: ${s.count}: ${s.reason}`)), ''));
}
