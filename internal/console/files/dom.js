// dom.js builds elements. Text always goes in through textContent: model,
// tool and audit content is data, never markup.

// h makes an element: h('p', {class: 'x', onclick: fn}, 'text', child, ...).
// Attributes named on* become event listeners; strings become text nodes.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  // A form never submits natively: a submission the script did not catch
  // must not put a field (a pasted key) into a URL or a request body.
  if (tag === 'form') el.setAttribute('method', 'dialog');
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

// clear empties el and fills it with children.
export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

// field is a labelled control.
export function field(label, control, hint) {
  const id = control.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  control.id = id;
  return h('div', { class: 'field' },
    h('label', { for: id }, label), control,
    hint ? h('small', { class: 'hint' }, hint) : null);
}

// pretty shows JSON (or a JSON string) indented, as text.
export function pretty(v) {
  if (typeof v === 'string') {
    try { return JSON.stringify(JSON.parse(v), null, 2); } catch { return v; }
  }
  return JSON.stringify(v, null, 2);
}

// badge shows a decision or status.
export function badge(kind, text) {
  return h('span', { class: `badge badge-${kind}` }, text || kind);
}

export function fmtTime(t) {
  if (!t) return '';
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? String(t) : d.toLocaleString();
}
