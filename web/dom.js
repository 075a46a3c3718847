// DOM helpers. Text always goes in as text nodes (never HTML), and nothing sets a `style`
// attribute: the page runs under a strict Content-Security-Policy.

/** Creates an element: `h('button', { class: 'x', onclick: fn }, 'Label', child)`. */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [key, value] of Object.entries(attrs)) {
      if (value === undefined || value === null || value === false) continue;
      if (key === 'class') el.className = value;
      else if (key === 'dataset') Object.assign(el.dataset, value);
      else if (key.startsWith('on') && typeof value === 'function') {
        el.addEventListener(key.slice(2).toLowerCase(), value);
      } else if (key === 'style') throw new Error('inline styles are not allowed');
      else el.setAttribute(key, value === true ? '' : String(value));
    }
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

/** Replaces an element's children. */
export function replace(el, ...children) {
  el.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));
}

const notices = () => document.getElementById('notices');

/** A transient message in the notice area; errors stay until dismissed. */
export function notify(message, { kind = 'info', timeout = 6000 } = {}) {
  const area = notices();
  if (!area) return;
  const close = h('button', { type: 'button', class: 'notice-close', 'aria-label': 'Dismiss' }, '×');
  const note = h(
    'div',
    // The area is a polite live region; errors interrupt.
    { class: `notice notice-${kind}`, role: kind === 'error' ? 'alert' : null },
    h('p', null, message),
    close,
  );
  const remove = () => note.remove();
  close.addEventListener('click', remove);
  area.append(note);
  if (kind !== 'error' && timeout) setTimeout(remove, timeout);
  // Keep the area from growing without bound.
  while (area.children.length > 4) area.firstElementChild.remove();
}

/** Asks for confirmation in a modal dialog; resolves to true when confirmed. */
export function confirmDialog({ title, message, confirmLabel = 'Confirm', danger = true }) {
  const dialog = document.getElementById('confirm');
  if (!dialog || typeof dialog.showModal !== 'function') {
    return Promise.resolve(window.confirm(`${title}\n\n${message}`));
  }
  document.getElementById('confirm-title').textContent = title;
  document.getElementById('confirm-message').textContent = message;
  const ok = document.getElementById('confirm-ok');
  ok.textContent = confirmLabel;
  ok.className = danger ? 'button danger' : 'button primary';
  dialog.returnValue = '';
  const opener = document.activeElement;
  return new Promise((resolve) => {
    dialog.addEventListener(
      'close',
      () => {
        resolve(dialog.returnValue === 'ok');
        if (opener instanceof HTMLElement && opener.isConnected) opener.focus();
      },
      { once: true },
    );
    dialog.showModal();
    document.getElementById('confirm-cancel').focus();
  });
}

/** "1 GiB", "512 MiB", "1.5 GiB". */
export function formatMib(mib) {
  if (mib >= 1024) {
    const gib = mib / 1024;
    return `${Number.isInteger(gib) ? gib : gib.toFixed(1)} GiB`;
  }
  return `${mib} MiB`;
}

const STATE_LABELS = {
  PENDING: 'Pending',
  STOPPED: 'Stopped',
  STARTING: 'Starting',
  RUNNING: 'Running',
  PAUSED: 'Paused',
  STOPPING: 'Stopping',
  CRASHED: 'Crashed',
  FAILED: 'Failed',
  DELETED: 'Deleted',
};

/** Sets a state badge's text and colour (the colour comes from `data-state` in the stylesheet). */
export function setBadge(badge, state, deleting = false) {
  const shown = deleting ? 'DELETING' : state;
  badge.dataset.state = shown;
  badge.textContent = deleting ? 'Deleting…' : (STATE_LABELS[state] ?? state);
}

export function stateBadge(state) {
  const badge = h('span', { class: 'badge' });
  setBadge(badge, state);
  return badge;
}
