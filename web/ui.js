// Small DOM helpers shared by the screens.

import { explain } from './api.js';

// h builds an element: h('button.primary#go', {onclick}, 'Go').
export function h(sel, attrs, ...children) {
  const [, tag = 'div', rest = ''] = /^([a-z0-9]*)(.*)$/i.exec(sel);
  const el = document.createElement(tag || 'div');
  for (const part of rest.match(/[.#][^.#]+/g) || []) {
    if (part[0] === '.') el.classList.add(part.slice(1)); else el.id = part.slice(1);
  }
  if (attrs && (typeof attrs !== 'object' || attrs instanceof Node || Array.isArray(attrs))) {
    children.unshift(attrs);
    attrs = null;
  }
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'style' && typeof v === 'object') Object.assign(el.style, v);
    else if (k in el && typeof v !== 'string') el[k] = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c == null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

// toast shows a message for a while; errors stay longer.
export function toast(text, kind = 'info') {
  const box = document.getElementById('toasts');
  const t = h(`div.toast.${kind}`, { role: kind === 'error' ? 'alert' : 'status' }, text);
  box.append(t);
  setTimeout(() => t.remove(), kind === 'error' ? 9000 : 4000);
  return t;
}

export function showError(err) {
  console.warn('greenroom:', err);
  return toast(explain(err), 'error');
}

// busy runs fn with the button disabled and shows what went wrong.
export async function busy(button, fn) {
  const was = button?.disabled;
  if (button) button.disabled = true;
  try {
    return await fn();
  } catch (err) {
    showError(err);
    return undefined;
  } finally {
    if (button && button.isConnected) button.disabled = was;
  }
}

export async function copy(text, what) {
  try {
    await navigator.clipboard.writeText(text);
    toast(`${what} copied`);
  } catch {
    // No clipboard permission: select it for a manual copy.
    toast(`Copy this ${what.toLowerCase()}: ${text}`);
  }
}

export function fmtTime(iso) {
  const d = new Date(iso);
  return d.toLocaleString([], { weekday: 'short', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
}

export function fmtDuration(ms) {
  const s = Math.max(0, Math.ceil(ms / 1000));
  const m = Math.floor(s / 60);
  const hh = Math.floor(m / 60);
  const pad = (n) => String(n).padStart(2, '0');
  return hh > 0 ? `${hh}:${pad(m % 60)}:${pad(s % 60)}` : `${m}:${pad(s % 60)}`;
}

export function initials(name) {
  return (name || '?').split(/\s+/).filter(Boolean).slice(0, 2).map((w) => w[0].toUpperCase()).join('');
}

export function field(label, input, hint) {
  return h('label.field', h('span.label', label), input, hint ? h('span.hint', hint) : null);
}

// icon returns a small inline SVG (no emoji font needed).
const PATHS = {
  hand: 'M9 11V5.5a1.5 1.5 0 0 1 3 0V11m0-1V4.5a1.5 1.5 0 0 1 3 0V11m0-.5V6.5a1.5 1.5 0 0 1 3 0V14a7 7 0 0 1-7 7h-.6a6 6 0 0 1-4.8-2.4L3.2 15a1.6 1.6 0 0 1 2.4-2.1L9 15V7.5a1.5 1.5 0 0 1 3 0',
  phone: 'M8 2h8a2 2 0 0 1 2 2v16a2 2 0 0 1-2 2H8a2 2 0 0 1-2-2V4a2 2 0 0 1 2-2zm3 17h2',
  web: 'M4 5h16v11H4zM2 19h20',
  mic: 'M12 3a3 3 0 0 1 3 3v6a3 3 0 0 1-6 0V6a3 3 0 0 1 3-3zm-7 9a7 7 0 0 0 14 0M12 19v3',
  micOff: 'M12 3a3 3 0 0 1 3 3v6a3 3 0 0 1-6 0V6a3 3 0 0 1 3-3zm-7 9a7 7 0 0 0 14 0M12 19v3M3 3l18 18',
  cam: 'M3 7h12v10H3zM15 10l6-3v10l-6-3',
  camOff: 'M3 7h12v10H3zM15 10l6-3v10l-6-3M2 3l19 18',
  end: 'M3 15c5-5 13-5 18 0l-2 3-4-1v-3a10 10 0 0 0-6 0v3l-4 1z',
  speaker: 'M4 9h4l5-4v14l-5-4H4zM16 9a4 4 0 0 1 0 6M18.5 6.5a8 8 0 0 1 0 11',
  screen: 'M3 4h18v12H3zM8 20h8M12 16v4M9 10l3-3 3 3M12 7v6',
};
export function icon(name, title) {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('class', `ic ic-${name}`);
  svg.setAttribute('aria-hidden', title ? 'false' : 'true');
  if (title) { const t = document.createElementNS(ns, 'title'); t.textContent = title; svg.append(t); }
  const p = document.createElementNS(ns, 'path');
  p.setAttribute('d', PATHS[name] || '');
  svg.append(p);
  return svg;
}

// ask shows a modal dialog with a question and two buttons, and resolves
// true when the person confirms. Escape or Cancel resolve false.
export function ask(title, text, okLabel, cancelLabel = 'Cancel') {
  return new Promise((resolve) => {
    const ok = h('button.primary#ask-ok', { type: 'button' }, okLabel);
    const no = h('button.secondary#ask-cancel', { type: 'button' }, cancelLabel);
    const dlg = h('dialog.ask#ask-dialog', { 'aria-labelledby': 'ask-title', 'aria-describedby': 'ask-text' },
      h('h2#ask-title', title), h('p#ask-text', text), h('div.row.dialog-foot', no, ok));
    let done = false;
    const finish = (v) => { if (done) return; done = true; if (dlg.open) dlg.close(); dlg.remove(); resolve(v); };
    ok.addEventListener('click', () => finish(true));
    no.addEventListener('click', () => finish(false));
    dlg.addEventListener('close', () => finish(false));
    document.body.append(dlg);
    dlg.showModal();
    ok.focus();
  });
}
