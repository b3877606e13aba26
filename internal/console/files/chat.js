// chat.js: talk to an agent. The answer streams in as /v1/chat's events
// arrive; each tool call is shown with its decision, rule and reason.
import { h, clear, field, pretty, badge } from './dom.js';
import { call, getJSON, events, APIError } from './api.js';
import * as auth from './auth.js';

const decisionText = { allow: 'allowed', deny: 'denied', pending: 'awaiting approval' };

// toolCard shows one tool call; update() refreshes it from a record.
function toolCard(rec) {
  const el = h('li', { class: 'toolcall' });
  el.update = (r) => {
    Object.assign(rec, r);
    const decision = rec.decision || 'pending';
    el.dataset.decision = decision;
    el.dataset.tool = rec.name || '';
    clear(el,
      h('div', { class: 'toolcall-head' },
        h('span', { class: 'toolname' }, rec.name || '(tool)'),
        badge(decision, decisionText[decision] || decision),
        rec.status ? h('span', { class: 'status' }, `status: ${rec.status}`) : null),
      rec.rule ? h('div', { class: 'rule' }, h('span', { class: 'k' }, 'rule '), rec.rule) : null,
      rec.reason ? h('div', { class: 'reason' }, h('span', { class: 'k' }, 'reason '), rec.reason) : null,
      rec.arguments !== undefined ? h('details', {}, h('summary', {}, 'arguments'), h('pre', {}, pretty(rec.arguments))) : null);
  };
  el.update({});
  return el;
}

export function chatPage(root, { me }) {
  const picker = h('select', { name: 'agent', id: 'agent' });
  const sessionLabel = h('span', { class: 'mono', id: 'session-id' });
  const newBtn = h('button', { type: 'button', id: 'new-session' }, 'New session');
  const log = h('ol', { class: 'chatlog', role: 'log', 'aria-live': 'polite', 'aria-label': 'Conversation' });
  const input = h('textarea', { name: 'message', rows: '3', required: true, placeholder: 'Ask the agent…' });
  const send = h('button', { type: 'submit', class: 'primary' }, 'Send');
  const status = h('p', { class: 'status-line', role: 'status' });
  const form = h('form', { class: 'composer' }, field('Message', input, 'Enter sends; Shift+Enter starts a new line.'),
    h('div', { class: 'actions' }, send));
  const ctl = new AbortController();
  let polling = 0;

  clear(root,
    h('section', { class: 'chat', 'aria-labelledby': 'chat-title' },
      h('div', { class: 'chat-bar' },
        h('h1', { id: 'chat-title' }, 'Chat'),
        field('Agent', picker),
        h('div', { class: 'session' }, h('span', {}, 'Session: '), sessionLabel),
        newBtn),
      log, status, form));

  const showSession = () => { sessionLabel.textContent = auth.sessionID() || 'new'; };
  showSession();

  getJSON('/v1/models', { signal: ctl.signal }).then((list) => {
    for (const m of list.data || []) picker.append(h('option', { value: m.id }, m.id));
  }).catch((e) => { if (e.name !== 'AbortError') status.textContent = `Agents could not be listed: ${e.message}`; });

  async function loadHistory() {
    const id = auth.sessionID();
    if (!id) return;
    if (!me.permissions.includes('read')) {
      status.textContent = 'Earlier messages of this session are not shown: your roles do not grant read.';
      return;
    }
    try {
      const s = await getJSON(`/v1/sessions/${encodeURIComponent(id)}`, { signal: ctl.signal });
      if (s.agent) picker.value = s.agent;
      const results = new Map();
      for (const m of s.messages) if (m.role === 'tool') results.set(m.tool_call_id, m.content);
      for (const m of s.messages) {
        if (m.role === 'user') log.append(bubble('user', m.content));
        if (m.role === 'assistant' && m.content) log.append(bubble('assistant', m.content));
        if (m.role === 'assistant' && m.tool_calls?.length) {
          const list = h('ul', { class: 'toolcalls' });
          for (const c of m.tool_calls) {
            let refused = null;
            try { const r = JSON.parse(results.get(c.id) || '{}'); if (r && r.error) refused = r; } catch { /* a result */ }
            list.append(toolCard({ name: c.name, arguments: c.arguments, decision: refused && refused.error !== 'tool_error' ? 'deny' : 'allow',
              status: refused ? refused.error : 'ok', reason: refused?.reason || refused?.message || '' }));
          }
          log.append(h('li', { class: 'msg msg-tools' }, list));
        }
      }
    } catch (e) {
      if (e.name === 'AbortError') return;
      if (e instanceof APIError && e.status === 404) { auth.setSessionID(''); showSession(); return; }
      status.textContent = `History could not be loaded: ${e.message}`;
    }
  }
  loadHistory();

  newBtn.addEventListener('click', () => {
    auth.setSessionID('');
    clear(log);
    status.textContent = 'A new session starts with your next message.';
    showSession();
    input.focus();
  });

  // Enter sends and Shift+Enter makes a new line, as in chat apps. An Enter
  // that confirms an IME composition (isComposing; keyCode 229 where the
  // browser does not set it) belongs to the composition and sends nothing.
  // In an empty box Enter does nothing (no "fill out this field" bubble).
  input.addEventListener('keydown', (e) => {
    if (e.key !== 'Enter' || e.shiftKey || e.isComposing || e.keyCode === 229) return;
    e.preventDefault();
    if (input.value.trim()) form.requestSubmit();
  });

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const message = input.value.trim();
    if (!message || send.disabled) return; // one run at a time
    input.value = '';
    send.disabled = true;
    log.append(bubble('user', message));
    const turn = new Turn(log);
    status.textContent = 'Running…';
    try {
      const body = { message, agent: picker.value || undefined, stream: true };
      if (auth.sessionID()) body.session_id = auth.sessionID();
      const res = await call('/v1/chat', { method: 'POST', body, signal: ctl.signal, accept: 'text/event-stream' });
      if ((res.headers.get('Content-Type') || '').includes('application/json')) {
        turn.paused(await res.json()); // 202 awaiting_approval without a stream
      } else {
        await events(res, (name, data) => turn.event(name, data));
      }
      if (turn.sessionID) { auth.setSessionID(turn.sessionID); showSession(); }
      if (turn.awaiting && !turn.done) {
        status.textContent = 'Waiting for approval…';
        await waitForRun(turn);
      }
      status.textContent = turn.failed ? 'The run failed.' : 'Done.';
    } catch (err) {
      if (err.name === 'AbortError') return;
      turn.fail(err.message);
      status.textContent = 'The run failed.';
    } finally {
      send.disabled = false;
    }
  });

  // waitForRun follows a paused run until it is decided and done.
  async function waitForRun(turn) {
    while (!ctl.signal.aborted) {
      await new Promise((r) => { polling = setTimeout(r, 1000); });
      let run;
      try {
        run = await getJSON(`/v1/runs/${encodeURIComponent(turn.runID)}`, { signal: ctl.signal });
      } catch (e) {
        if (e.name === 'AbortError') return;
        turn.fail(`The run's status could not be read: ${e.message}`);
        return;
      }
      if (run.status === 'completed') { turn.finish(run); return; }
      if (run.status === 'failed') { turn.fail(run.error?.detail || run.reason || 'The run failed.'); return; }
    }
  }

  input.focus();
  return () => { ctl.abort(); clearTimeout(polling); };
}

function bubble(role, text) {
  return h('li', { class: `msg msg-${role}` }, h('span', { class: 'who' }, role === 'user' ? 'You' : 'Agent'), h('div', { class: 'text' }, text));
}

// Turn is one run as it is shown: the answer's text and its tool calls.
class Turn {
  constructor(log) {
    this.text = h('div', { class: 'text' });
    this.tools = h('ul', { class: 'toolcalls' });
    this.meta = h('div', { class: 'meta' });
    this.el = h('li', { class: 'msg msg-assistant', 'aria-busy': 'true' }, h('span', { class: 'who' }, 'Agent'), this.tools, this.text, this.meta);
    this.cards = new Map();
    log.append(this.el);
  }

  card(rec) {
    const key = rec.id || `${rec.name}-${this.cards.size}`;
    let c = this.cards.get(key);
    if (!c) { c = toolCard({ ...rec }); this.cards.set(key, c); this.tools.append(c); }
    c.update(rec);
    return c;
  }

  event(name, d) {
    switch (name) {
      case 'run.started':
        this.runID = d.run_id; this.sessionID = d.session_id || this.sessionID;
        this.meta.textContent = `run ${d.run_id}`;
        break;
      case 'message.delta':
        this.text.textContent += d.content || '';
        break;
      case 'tool.decided':
      case 'tool.finished':
        if (d.tool_call) this.card(d.tool_call);
        break;
      case 'approval.requested':
        this.paused(d);
        break;
      case 'run.finished':
        if (d.result) this.finish(d.result);
        else if (d.outcome && d.outcome !== 'ok') this.fail(d.reason || 'The run failed.');
        break;
      case 'error':
        this.fail(d.error?.detail || 'The run failed.');
        break;
      default:
    }
  }

  // paused shows the calls waiting for a person's approval.
  paused(d) {
    this.awaiting = true;
    this.runID = d.run_id || this.runID;
    this.sessionID = d.session_id || this.sessionID;
    const list = d.approvals || (d.approval ? [d.approval] : []);
    for (const a of list) {
      this.card({ id: a.tool_call_id || a.call_id || a.id, name: a.tool, arguments: a.arguments, decision: 'pending',
        reason: `approval ${a.id} requested${a.expires_at ? `, expires ${new Date(a.expires_at).toLocaleString()}` : ''}` });
    }
  }

  finish(r) {
    this.done = true;
    this.el.removeAttribute('aria-busy');
    this.sessionID = r.session_id || this.sessionID;
    this.text.textContent = r.response ?? this.text.textContent;
    for (const tc of r.tool_calls || []) this.card(tc);
    // A pending card the result's own record of the call replaces.
    for (const [key, c] of this.cards) {
      if (c.dataset.decision === 'pending' && (r.tool_calls || []).some((tc) => tc.name === c.dataset.tool && tc.id !== key)) {
        c.remove();
        this.cards.delete(key);
      }
    }
    this.meta.textContent = [r.run_id && `run ${r.run_id}`, r.model && `model ${r.model}`,
      r.usage && `${r.usage.total_tokens} tokens`].filter(Boolean).join(' · ');
  }

  fail(msg) {
    this.done = true;
    this.failed = true;
    this.el.removeAttribute('aria-busy');
    this.el.append(h('p', { class: 'error', role: 'alert' }, msg));
  }
}
