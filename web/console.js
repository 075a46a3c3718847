// The serial console view: xterm.js (vendored, loaded on first use) on the console websocket.

import { ApiError, can, gql } from './api.js';
import { h, setBadge } from './dom.js';
import { store, VM_FIELDS } from './store.js';

let xtermLoading = null;

/** Loads /vendor/xterm.js once; it defines `Terminal` on the global object. */
function loadXterm() {
  if (globalThis.Terminal) return Promise.resolve(globalThis.Terminal);
  xtermLoading ??= new Promise((resolve, reject) => {
    const script = document.createElement('script');
    script.src = '/vendor/xterm.js';
    script.async = true;
    script.onload = () =>
      globalThis.Terminal ? resolve(globalThis.Terminal) : reject(new Error('xterm.js did not load'));
    script.onerror = () => {
      xtermLoading = null;
      script.remove();
      reject(new Error('The terminal could not be loaded.'));
    };
    document.head.append(script);
  });
  return xtermLoading;
}

const THEME = {
  background: '#0d1117',
  foreground: '#d8dee4',
  cursor: '#d8dee4',
  selectionBackground: '#3b5070',
};

/**
 * Mounts the console of VM `vmId` into `main`; returns a function that tears it down.
 */
export function consoleView(main, { vmId }) {
  let destroyed = false;
  let term = null;
  let ws = null;
  let generation = 0;
  let connected = false;
  let resizeObserver = null;
  let lastState = null;
  let lastStateKnown = false; // set once the terminal exists
  const encoder = new TextEncoder();

  const title = h('span', { class: 'console-vm-name' }, '…');
  const badge = h('span', { class: 'badge' });
  const status = h('span', { class: 'conn-status', role: 'status', 'aria-live': 'polite' });
  const statusDot = h('span', { class: 'conn-dot', 'aria-hidden': 'true' });
  const reconnect = h('button', { type: 'button', class: 'button' }, 'Reconnect');
  const screen = h('div', { class: 'terminal', role: 'region', 'aria-label': 'Serial console' });
  const wrap = h('div', { class: 'terminal-wrap' }, screen);
  const view = h(
    'section',
    { class: 'console-view', 'aria-labelledby': 'console-title' },
    h(
      'div',
      { class: 'console-bar' },
      h('a', { href: '/', 'data-nav': true, class: 'back' }, '← Virtual machines'),
      h('h1', { id: 'console-title' }, h('span', { class: 'visually-hidden' }, 'Serial console of '), title),
      badge,
      h('div', { class: 'console-conn' }, statusDot, status, reconnect),
    ),
    wrap,
    h(
      'p',
      { class: 'hint muted' },
      'Serial console: nothing shows until the guest writes something — press Enter for a prompt.',
    ),
  );
  main.replaceChildren(view);

  function setStatus(text, kind = 'idle') {
    status.textContent = text;
    statusDot.dataset.kind = kind;
    view.dataset.conn = kind;
  }

  function showVm(vm) {
    if (!vm) return;
    title.textContent = vm.name;
    document.title = `${vm.name} · console · Distribox`;
    setBadge(badge, vm.state, store.isDeleting(vm.id));
    const wasRunning = lastState === 'RUNNING';
    lastState = vm.state;
    // The VM came up while the page was open: connect by itself.
    if (vm.state === 'RUNNING' && !wasRunning && lastStateKnown && !connected && !ws) connect();
    if (vm.state !== 'RUNNING' && !ws) setStatus(`Not connected: the VM is ${vm.state.toLowerCase()}.`, 'idle');
  }

  function closeSocket() {
    generation += 1;
    connected = false;
    const old = ws;
    ws = null;
    if (old) {
      old.onopen = old.onmessage = old.onclose = old.onerror = null;
      try {
        old.close(1000, 'bye');
      } catch {
        /* already closed */
      }
    }
  }

  async function connect() {
    if (destroyed || !term) return;
    closeSocket();
    const mine = generation;
    reconnect.disabled = true;
    setStatus('Requesting a console ticket…', 'busy');
    let ticket;
    try {
      const data = await gql(
        'mutation OpenConsole($vmId: ID!) { openConsole(vmId: $vmId, kind: SERIAL) { url expiresAt } }',
        { vmId },
      );
      ticket = data.openConsole;
    } catch (error) {
      if (mine !== generation || destroyed) return;
      reconnect.disabled = false;
      const why = error instanceof ApiError && error.code === 'CONFLICT' ? 'the VM is not running' : error.message;
      setStatus(`Cannot connect: ${why}`, 'error');
      return;
    }
    if (mine !== generation || destroyed) return;
    if (typeof ticket?.url !== 'string' || !ticket.url.startsWith('/') || ticket.url.startsWith('//')) {
      reconnect.disabled = false;
      setStatus('Cannot connect: the server sent an unusable console URL.', 'error');
      return;
    }
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const socket = new WebSocket(`${scheme}//${location.host}${ticket.url}`);
    socket.binaryType = 'arraybuffer';
    ws = socket;
    setStatus('Connecting…', 'busy');

    socket.onopen = () => {
      if (ws !== socket) return;
      connected = true;
      reconnect.disabled = false;
      setStatus('Connected', 'ok');
      term.focus();
    };
    socket.onmessage = (event) => {
      if (ws !== socket) return;
      if (event.data instanceof ArrayBuffer) term.write(new Uint8Array(event.data));
      else if (typeof event.data === 'string') term.write(event.data);
    };
    socket.onclose = (event) => {
      if (ws !== socket) return;
      const wasConnected = connected;
      ws = null;
      connected = false;
      reconnect.disabled = false;
      if (wasConnected) term.write('\r\n\x1b[2m[disconnected]\x1b[0m\r\n');
      const reason = event.reason ? `: ${event.reason}` : '';
      const vm = store.get(vmId);
      if (!wasConnected) setStatus(`Could not connect${reason || ' (the ticket may have expired)'}`, 'error');
      else if (vm && vm.state !== 'RUNNING') setStatus(`Disconnected: the VM is ${vm.state.toLowerCase()}.`, 'idle');
      else setStatus(`Disconnected${reason}`, 'error');
    };
  }

  /** Sizes the terminal to its box, from the cell size xterm rendered. */
  function fit() {
    if (!term?.element) return;
    const cells = term.element.querySelector('.xterm-screen');
    if (!cells || !cells.offsetWidth || !term.cols || !term.rows) return;
    const cellWidth = cells.offsetWidth / term.cols;
    const cellHeight = cells.offsetHeight / term.rows;
    const box = wrap.getBoundingClientRect();
    const padding = 16; // .terminal-wrap padding, both sides
    const cols = Math.max(20, Math.floor((box.width - padding - 12) / cellWidth));
    const rows = Math.max(5, Math.floor((box.height - padding) / cellHeight));
    if (cols !== term.cols || rows !== term.rows) term.resize(cols, rows);
  }

  reconnect.addEventListener('click', () => connect());
  setStatus('Loading…', 'busy');

  const unsubscribe = store.subscribe((id) => {
    if (destroyed || (id !== null && id !== vmId)) return;
    const vm = store.get(vmId);
    if (vm) showVm(vm);
    else if (store.loaded || id === vmId) {
      closeSocket();
      setBadge(badge, 'DELETED');
      setStatus('This VM has been deleted.', 'error');
      reconnect.disabled = true;
    }
  });

  (async () => {
    if (!can('vms:connect')) {
      setStatus('Your account may not open consoles (vms:connect).', 'error');
      reconnect.disabled = true;
    }
    let vm = store.get(vmId);
    try {
      if (!vm && can('vms:getById')) {
        const data = await gql(`query Vm($id: ID!) { vm(id: $id) { ${VM_FIELDS} } }`, { id: vmId });
        vm = data.vm;
        if (vm) store.put(vm);
      }
    } catch (error) {
      if (!destroyed) setStatus(error.message, 'error');
    }
    if (destroyed) return;
    if (!vm && can('vms:getById')) {
      title.textContent = 'unknown VM';
      setStatus('There is no VM with this id.', 'error');
      reconnect.disabled = true;
      return;
    }
    let Terminal;
    try {
      Terminal = await loadXterm();
    } catch (error) {
      if (!destroyed) setStatus(error.message, 'error');
      return;
    }
    if (destroyed) return;
    term = new Terminal({
      cursorBlink: true,
      fontFamily: 'ui-monospace, SFMono-Regular, "DejaVu Sans Mono", Menlo, Consolas, "Liberation Mono", monospace',
      fontSize: 14,
      scrollback: 5000,
      theme: THEME,
    });
    term.open(screen);
    term.onData((data) => {
      if (ws?.readyState === WebSocket.OPEN) ws.send(encoder.encode(data));
    });
    term.onBinary((data) => {
      if (ws?.readyState === WebSocket.OPEN) ws.send(Uint8Array.from(data, (c) => c.charCodeAt(0) & 0xff));
    });
    fit();
    let pending = 0;
    resizeObserver = new ResizeObserver(() => {
      cancelAnimationFrame(pending);
      pending = requestAnimationFrame(fit);
    });
    resizeObserver.observe(wrap);
    lastStateKnown = true;
    if (vm) showVm(vm);
    if (can('vms:connect') && (!vm || vm.state === 'RUNNING')) connect();
  })();

  return () => {
    destroyed = true;
    unsubscribe();
    closeSocket();
    resizeObserver?.disconnect();
    term?.dispose();
    term = null;
  };
}
