// Distribox in the browser: routing, session, and the dashboard, login and new-VM views.

import { ApiError, can, getToken, gql, onUnauthenticated, session, setToken } from './api.js';
import { consoleView } from './console.js';
import { confirmDialog, formatMib, h, notify, setBadge } from './dom.js';
import { Subscription } from './events.js';
import { store, VM_FIELDS } from './store.js';

const main = document.getElementById('main');
let teardown = null;

// ---------------------------------------------------------------------------------------------
// Routing

const routes = [
  [/^\/login$/, loginView, { public: true }],
  [/^\/$/, dashboardView],
  [/^\/vms\/new$/, newVmView],
  [/^\/vms\/([^/]+)\/console$/, (root, id) => consoleView(root, { vmId: decodeURIComponent(id) })],
];

function navigate(path, { replace = false } = {}) {
  if (replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  route();
}

function safeNext(path) {
  return typeof path === 'string' && path.startsWith('/') && !path.startsWith('//') && path !== '/login'
    ? path
    : '/';
}

function route() {
  const path = location.pathname;
  if (!session.account && path !== '/login') {
    const next = path === '/' ? '' : `?next=${encodeURIComponent(path + location.search)}`;
    history.replaceState(null, '', `/login${next}`);
  } else if (session.account && path === '/login') {
    history.replaceState(null, '', safeNext(new URLSearchParams(location.search).get('next')));
  }
  teardown?.();
  teardown = null;
  document.title = 'Distribox';
  const current = location.pathname;
  for (const [pattern, view] of routes) {
    const match = pattern.exec(current);
    if (match) {
      teardown = view(main, ...match.slice(1)) ?? null;
      markCurrentNav();
      return;
    }
  }
  main.replaceChildren(
    h('section', { class: 'panel narrow' },
      h('h1', null, 'Page not found'),
      h('p', null, h('a', { href: '/', 'data-nav': true }, 'Back to the virtual machines'))),
  );
}

function markCurrentNav() {
  for (const link of document.querySelectorAll('header nav a')) {
    if (link.getAttribute('href') === location.pathname) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
}

document.addEventListener('click', (event) => {
  const link = event.target.closest?.('a[data-nav]');
  if (!link || event.defaultPrevented || event.button !== 0) return;
  if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  event.preventDefault();
  navigate(link.getAttribute('href'));
  main.focus({ preventScroll: true });
});
window.addEventListener('popstate', route);

// ---------------------------------------------------------------------------------------------
// Session and live updates

const events = new Subscription({
  query: 'subscription VmEvents { vmEvents { vmId state event at } }',
  token: getToken,
  onData: (data) => store.applyEvent(data.vmEvents),
  onAck: () => {
    // Whatever happened while disconnected was missed: reload the list if anyone shows it.
    if (store.wanted) store.load({ fresh: true }).catch((error) => console.warn(error));
  },
  onStatus: (status, detail) => showLiveStatus(status, detail),
  onRejected: async () => {
    // Refused before the acknowledgement: find out whether the token still works.
    try {
      await gql('query Me { me { id } }');
      return true;
    } catch (error) {
      return error.code !== 'UNAUTHENTICATED';
    }
  },
});

function showLiveStatus(status, detail) {
  const live = document.getElementById('live');
  live.dataset.status = status;
  live.hidden = status === 'off';
  const text = {
    connecting: 'Connecting…',
    live: 'Live',
    reconnecting: 'Reconnecting…',
    off: '',
  }[status];
  live.querySelector('.live-text').textContent = text;
  live.title =
    status === 'live'
      ? 'Receiving live updates'
      : status === 'reconnecting'
        ? `Live updates interrupted${detail ? `, ${detail}` : ''}`
        : '';
}

function startSession(account) {
  session.set(account);
  document.getElementById('whoami').textContent = account.username;
  document.getElementById('session').hidden = false;
  document.getElementById('nav').hidden = false;
  if (can('vms:get')) events.start();
}

function endSession(message) {
  events.stop();
  setToken(null);
  session.set(null);
  store.clear();
  document.getElementById('session').hidden = true;
  document.getElementById('nav').hidden = true;
  if (message) notify(message, { kind: 'info', timeout: 10000 });
  const path = location.pathname === '/login' ? '' : location.pathname;
  navigate(path && path !== '/' ? `/login?next=${encodeURIComponent(path)}` : '/login', { replace: true });
}

onUnauthenticated(() => {
  if (session.account) endSession('Your session has ended. Please log in again.');
});

document.getElementById('logout').addEventListener('click', () => {
  // There is no server-side logout yet; forgetting the token ends the session here.
  endSession(null);
  notify('Logged out.');
});

// ---------------------------------------------------------------------------------------------
// Login

function loginView(root) {
  document.title = 'Log in · Distribox';
  const error = h('p', { class: 'form-error', id: 'login-error', role: 'alert', hidden: true });
  const username = h('input', {
    id: 'username', name: 'username', autocomplete: 'username', required: true,
    autocapitalize: 'none', spellcheck: 'false',
  });
  const password = h('input', {
    id: 'password', name: 'password', type: 'password', autocomplete: 'current-password', required: true,
  });
  const submit = h('button', { type: 'submit', class: 'button primary wide' }, 'Log in');
  const form = h('form', { class: 'stack', novalidate: true, 'aria-describedby': 'login-error' },
    h('div', { class: 'field' }, h('label', { for: 'username' }, 'Username'), username),
    h('div', { class: 'field' }, h('label', { for: 'password' }, 'Password'), password),
    error,
    submit);
  root.replaceChildren(
    h('section', { class: 'panel login', 'aria-labelledby': 'login-title' },
      h('h1', { id: 'login-title' }, 'Log in to Distribox'),
      form),
  );
  username.focus();

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    error.hidden = true;
    if (!username.value.trim() || !password.value) {
      error.textContent = 'Enter your username and password.';
      error.hidden = false;
      (username.value.trim() ? password : username).focus();
      return;
    }
    submit.disabled = true;
    submit.textContent = 'Logging in…';
    try {
      const data = await gql(
        `mutation Login($username: String!, $password: String!) {
          login(username: $username, password: $password) { token account { id username policies } }
        }`,
        { username: username.value.trim(), password: password.value },
      );
      setToken(data.login.token);
      startSession(data.login.account);
      navigate(safeNext(new URLSearchParams(location.search).get('next')), { replace: true });
    } catch (e) {
      error.textContent =
        e.code === 'RATE_LIMITED' ? `Too many attempts. ${e.message}` : e.message || 'Login failed.';
      error.hidden = false;
      password.select();
      password.focus();
      submit.disabled = false;
      submit.textContent = 'Log in';
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Dashboard

// `mutation`: a VM mutation taking `id` and returning the VM.
const ACTIONS = [
  { key: 'start', label: 'Start', policy: 'vms:start', states: ['STOPPED', 'FAILED'], mutation: 'startVm' },
  { key: 'shutdown', label: 'Shut down', policy: 'vms:stop', states: ['RUNNING'], mutation: 'shutdownVm' },
  { key: 'reboot', label: 'Reboot', policy: 'vms:reboot', states: ['RUNNING'], mutation: 'rebootVm' },
  { key: 'pause', label: 'Pause', policy: 'vms:pause', states: ['RUNNING'], mutation: 'pauseVm' },
  { key: 'resume', label: 'Resume', policy: 'vms:pause', states: ['PAUSED'], mutation: 'resumeVm' },
  { key: 'stop', label: 'Force stop', policy: 'vms:stop', states: ['RUNNING', 'STARTING', 'STOPPING', 'PAUSED'], danger: true, mutation: 'forceStopVm' },
  { key: 'console', label: 'Console', policy: 'vms:connect', states: ['RUNNING'] },
  { key: 'delete', label: 'Delete', policy: 'vms:delete', states: ['STOPPED', 'FAILED', 'PENDING'], danger: true },
];

let flashId = null; // a VM just created here, highlighted once on the dashboard

function dashboardView(root) {
  document.title = 'Virtual machines · Distribox';
  const heading = h('div', { class: 'page-head' },
    h('h1', null, 'Virtual machines'),
    can('vms:create') ? h('a', { href: '/vms/new', class: 'button primary', 'data-nav': true }, 'New VM') : null);

  if (!can('vms:get')) {
    root.replaceChildren(heading, h('p', { class: 'panel muted' }, 'Your account may not list VMs (vms:get).'));
    return null;
  }

  const tbody = h('tbody');
  const table = h('table', { class: 'vm-table' },
    h('caption', { class: 'visually-hidden' }, 'Virtual machines, live'),
    h('thead', null, h('tr', null,
      h('th', { scope: 'col' }, 'Name'),
      h('th', { scope: 'col' }, 'State'),
      h('th', { scope: 'col' }, 'Image'),
      h('th', { scope: 'col', class: 'num' }, 'vCPUs'),
      h('th', { scope: 'col', class: 'num' }, 'Memory'),
      h('th', { scope: 'col', class: 'num' }, 'Disk'),
      h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Actions')))),
    tbody);
  const empty = h('div', { class: 'empty', hidden: true });
  const loading = h('p', { class: 'muted', role: 'status' }, 'Loading…');
  const tableWrap = h('div', { class: 'table-wrap', hidden: true }, table);
  root.replaceChildren(heading, loading, empty, tableWrap);

  const rows = new Map();

  function render() {
    const list = store.list();
    for (const [id, row] of rows) {
      if (!store.get(id)) {
        row.tr.remove();
        rows.delete(id);
      }
    }
    list.forEach((vm, index) => {
      let row = rows.get(vm.id);
      if (!row) {
        row = vmRow(vm.id);
        rows.set(vm.id, row);
      }
      row.update(vm);
      // Move rows only when out of place: moving a node would take the focus off its buttons.
      if (tbody.children[index] !== row.tr) tbody.insertBefore(row.tr, tbody.children[index] ?? null);
    });
    loading.hidden = true;
    tableWrap.hidden = list.length === 0;
    empty.hidden = list.length !== 0;
    if (!list.length) {
      empty.replaceChildren(
        h('p', null, 'No virtual machines yet.'),
        can('vms:create') ? h('p', null, h('a', { href: '/vms/new', 'data-nav': true }, 'Create the first one')) : null,
      );
    }
    if (flashId && rows.has(flashId)) {
      const tr = rows.get(flashId).tr;
      tr.classList.add('flash');
      setTimeout(() => tr.classList.remove('flash'), 2500);
      flashId = null;
    }
  }

  const unsubscribe = store.subscribe((id) => {
    if (id === null || store.loaded) render();
  });
  if (store.loaded) render();
  store.load().catch((error) => {
    loading.hidden = false;
    loading.textContent = `Could not load the VMs: ${error.message}`;
    loading.setAttribute('role', 'alert');
  });

  return unsubscribe;
}

function vmRow(id) {
  const name = h('span', { class: 'vm-name' });
  const failure = h('p', { class: 'failure', hidden: true });
  const badge = h('span', { class: 'badge' });
  const image = h('td', { 'data-label': 'Image' });
  const vcpus = h('td', { class: 'num', 'data-label': 'vCPUs' });
  const memory = h('td', { class: 'num', 'data-label': 'Memory' });
  const disk = h('td', { class: 'num', 'data-label': 'Disk' });
  let busy = false;
  let current = null;

  const buttons = ACTIONS.filter((action) => can(action.policy)).map((action) => {
    const button = h('button', {
      type: 'button',
      class: `button small${action.danger ? ' danger-outline' : ''}`,
      dataset: { action: action.key },
    }, action.label);
    button.addEventListener('click', () => run(action));
    return { action, button };
  });
  const tr = h('tr', { dataset: { vmId: id } },
    h('th', { scope: 'row', 'data-label': 'Name' }, name, failure),
    h('td', { 'data-label': 'State' }, badge),
    image, vcpus, memory, disk,
    h('td', { class: 'actions-cell' },
      h('div', { class: 'actions' }, buttons.map((b) => b.button))));

  function update(vm) {
    current = vm;
    name.textContent = vm.name;
    name.title = `Created ${new Date(vm.createdAt).toLocaleString()}`;
    const deleting = store.isDeleting(vm.id);
    setBadge(badge, vm.state, deleting);
    if (vm.failure) {
      failure.textContent = vm.state === 'FAILED' ? vm.failure : `Last failure: ${vm.failure}`;
      failure.hidden = false;
    } else {
      failure.hidden = true;
    }
    image.textContent = vm.image;
    vcpus.textContent = String(vm.vcpus);
    memory.textContent = formatMib(vm.memoryMib);
    disk.textContent = `${vm.diskGib} GiB`;
    tr.classList.toggle('is-deleting', deleting);
    for (const { action, button } of buttons) {
      button.disabled = busy || deleting || !action.states.includes(vm.state);
      button.setAttribute('aria-label', `${action.label} ${vm.name}`);
    }
  }

  async function run(action) {
    const vm = current;
    if (!vm) return;
    if (action.key === 'console') {
      navigate(`/vms/${encodeURIComponent(vm.id)}/console`);
      return;
    }
    if (action.key === 'stop') {
      const ok = await confirmDialog({
        title: `Force stop “${vm.name}”?`,
        message: 'This cuts the power at once, like pulling the plug. Anything the guest has not saved is lost.',
        confirmLabel: 'Force stop',
      });
      if (!ok) return;
    }
    if (action.key === 'delete') {
      const ok = await confirmDialog({
        title: `Delete “${vm.name}”?`,
        message: 'The VM and its disks are removed for good. This cannot be undone.',
        confirmLabel: 'Delete',
      });
      if (!ok) return;
    }
    busy = true;
    update(store.get(vm.id) ?? vm);
    try {
      if (action.mutation) {
        const data = await gql(`mutation Act($id: ID!) { ${action.mutation}(id: $id) { ${VM_FIELDS} } }`, { id: vm.id });
        store.put(data[action.mutation]);
      } else if (action.key === 'delete') {
        await gql('mutation Delete($id: ID!) { deleteVm(id: $id) }', { id: vm.id });
        // The row goes when the hypervisor has removed the VM and the event says so.
        store.markDeleting(vm.id);
        store.refresh(vm.id);
      }
    } catch (error) {
      if (error.code !== 'UNAUTHENTICATED') {
        notify(`${action.label} “${vm.name}” failed: ${error.message}`, { kind: 'error' });
      }
      store.refresh(vm.id);
    } finally {
      busy = false;
      const latest = store.get(vm.id);
      if (latest) update(latest);
    }
  }

  return { tr, update };
}

// ---------------------------------------------------------------------------------------------
// New VM

const FIELD_OF_MESSAGE = [
  [/^(vm )?name\b/i, 'name'],
  [/image/i, 'image'],
  [/^vcpus\b/i, 'vcpus'],
  [/^memory/i, 'memory'],
  [/^disk/i, 'disk'],
  [/^hostname/i, 'hostname'],
  [/^(a login )?user\b/i, 'user'],
  [/^password\b|needs? a password/i, 'password'],
  [/ssh keys?/i, 'sshKeys'],
];

function newVmView(root) {
  document.title = 'New VM · Distribox';
  const back = h('a', { href: '/', 'data-nav': true, class: 'back' }, '← Virtual machines');
  if (!can('vms:create')) {
    root.replaceChildren(back, h('section', { class: 'panel narrow' },
      h('h1', null, 'New VM'), h('p', null, 'Your account may not create VMs (vms:create).')));
    return null;
  }

  const fields = {};
  function field(key, label, input, help) {
    const errorId = `${key}-error`;
    const helpId = help ? `${key}-help` : null;
    input.id = key;
    input.name = key;
    const error = h('p', { class: 'field-error', id: errorId, hidden: true });
    if (helpId) input.setAttribute('aria-describedby', helpId);
    fields[key] = { input, error, helpId };
    return h('div', { class: 'field' },
      h('label', { for: key }, label),
      input,
      help ? h('p', { class: 'help', id: helpId }, help) : null,
      error);
  }
  function setError(key, message) {
    const f = fields[key];
    f.error.textContent = message ?? '';
    f.error.hidden = !message;
    if (message) f.input.setAttribute('aria-invalid', 'true');
    else f.input.removeAttribute('aria-invalid');
    const describedBy = [f.helpId, message ? f.error.id : null].filter(Boolean).join(' ');
    if (describedBy) f.input.setAttribute('aria-describedby', describedBy);
    else f.input.removeAttribute('aria-describedby');
  }

  const name = h('input', { required: true, maxlength: 64, autocomplete: 'off', spellcheck: 'false' });
  const image = h('select', { required: true }, h('option', { value: '' }, 'Loading images…'));
  const vcpus = h('input', { type: 'number', min: 1, max: 64, step: 1, value: 1, required: true, inputmode: 'numeric' });
  const memory = h('input', { type: 'number', min: 64, max: 262144, step: 1, value: 1024, required: true, inputmode: 'numeric' });
  const disk = h('input', { type: 'number', min: 1, max: 4096, step: 1, value: 10, required: true, inputmode: 'numeric' });
  const hostname = h('input', { maxlength: 253, autocomplete: 'off', spellcheck: 'false', placeholder: 'derived from the VM id' });
  const user = h('input', { maxlength: 32, autocomplete: 'off', spellcheck: 'false', placeholder: 'none' });
  const password = h('input', { type: 'password', minlength: 8, maxlength: 256, autocomplete: 'new-password' });
  const sshKeys = h('textarea', { rows: 3, spellcheck: 'false', placeholder: 'ssh-ed25519 AAAA… you@laptop' });
  const start = h('input', { type: 'checkbox', id: 'start', name: 'start', checked: true });
  const formError = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const submit = h('button', { type: 'submit', class: 'button primary' }, 'Create VM');
  const cancel = h('a', { href: '/', class: 'button', 'data-nav': true }, 'Cancel');

  const form = h('form', { class: 'stack', novalidate: true },
    field('name', 'Name', name, 'Up to 64 characters.'),
    field('image', 'Image', image),
    h('div', { class: 'grid-3' },
      field('vcpus', 'vCPUs', vcpus, '1–64'),
      field('memory', 'Memory (MiB)', memory, '64–262144'),
      field('disk', 'Disk (GiB)', disk, 'At least the image’s size')),
    h('fieldset', { class: 'stack' },
      h('legend', null, 'Guest login (cloud-init)'),
      field('hostname', 'Hostname', hostname),
      field('user', 'User', user, 'Created in the guest, with the password and/or SSH keys below. Leave empty for none.'),
      field('password', 'Password', password, '8–256 characters; only a hash is kept.'),
      field('sshKeys', 'SSH public keys', sshKeys, 'One per line.')),
    h('div', { class: 'field checkbox' }, start, h('label', { for: 'start' }, 'Start it now')),
    formError,
    h('div', { class: 'form-actions' }, submit, cancel));

  root.replaceChildren(back, h('section', { class: 'panel narrow', 'aria-labelledby': 'new-vm-title' },
    h('h1', { id: 'new-vm-title' }, 'New VM'), form));
  name.focus();

  let images = [];
  function selectedImage() {
    return images.find((i) => i.id === image.value);
  }
  function syncDiskMin() {
    const img = selectedImage();
    const min = img ? Math.max(1, img.minDiskGib) : 1;
    disk.min = String(min);
    document.getElementById('disk-help').textContent = `At least ${min} GiB for this image`;
    if (Number(disk.value) < min) disk.value = String(Math.max(min, 10));
  }
  image.addEventListener('change', () => {
    syncDiskMin();
    setError('image', null);
  });

  if (can('images:get')) {
    gql('query Images { images { id name osFamily osVersion minDiskGib } }')
      .then((data) => {
        images = data.images ?? [];
        image.replaceChildren(
          ...(images.length
            ? images.map((img) => {
                const os = [img.osFamily, img.osVersion].filter(Boolean).join(' ');
                return h('option', { value: img.id }, os ? `${img.name} (${os})` : img.name);
              })
            : [h('option', { value: '' }, 'No images available')]),
        );
        syncDiskMin();
      })
      .catch((error) => {
        image.replaceChildren(h('option', { value: '' }, 'Could not load images'));
        setError('image', error.message);
      });
  } else {
    image.replaceChildren(h('option', { value: '' }, 'Your account may not list images'));
  }

  for (const key of ['name', 'vcpus', 'memory', 'disk', 'hostname', 'user', 'password', 'sshKeys']) {
    fields[key].input.addEventListener('input', () => setError(key, null));
  }

  function validate() {
    let firstBad = null;
    for (const key of ['name', 'image', 'vcpus', 'memory', 'disk']) {
      const input = fields[key].input;
      let message = null;
      if (key === 'name' && !input.value.trim()) message = 'Give the VM a name.';
      else if (key === 'image' && !input.value) message = 'Choose an image.';
      else if (!input.checkValidity()) message = input.validationMessage;
      setError(key, message);
      if (message && !firstBad) firstBad = input;
    }
    return firstBad;
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    formError.hidden = true;
    const bad = validate();
    if (bad) {
      bad.focus();
      return;
    }
    submit.disabled = true;
    submit.textContent = 'Creating…';
    const input = {
      name: name.value.trim(),
      image: image.value,
      vcpus: Number(vcpus.value),
      memoryMib: Number(memory.value),
      diskGib: Number(disk.value),
      start: start.checked,
      hostname: hostname.value.trim() || null,
      user: user.value.trim() || null,
      password: password.value || null,
      sshKeys: sshKeys.value.split('\n').map((k) => k.trim()).filter(Boolean),
    };
    try {
      const data = await gql(`mutation Create($input: CreateVmInput!) { createVm(input: $input) { ${VM_FIELDS} } }`, { input });
      store.put(data.createVm);
      flashId = data.createVm.id;
      notify(`Created “${data.createVm.name}”.`);
      navigate('/');
    } catch (error) {
      submit.disabled = false;
      submit.textContent = 'Create VM';
      if (error.code === 'UNAUTHENTICATED') return;
      // Refusals of the input (BAD_INPUT, or a name clash) go next to the field they are about.
      const inline = ['BAD_INPUT', 'CONFLICT', null].includes(error.code);
      const key = inline ? FIELD_OF_MESSAGE.find(([re]) => re.test(error.message))?.[1] : null;
      if (key) {
        setError(key, error.message);
        fields[key].input.focus();
      } else {
        formError.textContent = error.message;
        formError.hidden = false;
      }
    }
  });
  return null;
}

// ---------------------------------------------------------------------------------------------
// Start

async function boot() {
  const token = getToken();
  if (token) {
    const remembered = session.load();
    try {
      const data = await gql('query Me { me { id username policies } }');
      startSession(data.me);
    } catch (error) {
      if (error.code === 'FORBIDDEN' && remembered) startSession(remembered);
      else if (error.code !== 'UNAUTHENTICATED') {
        // The server is unreachable or broken: keep the token and let the user retry.
        main.replaceChildren(h('section', { class: 'panel narrow', role: 'alert' },
          h('h1', null, 'Distribox is unavailable'),
          h('p', null, error.message),
          h('button', { type: 'button', class: 'button primary', onclick: () => location.reload() }, 'Try again')));
        return;
      } else {
        setToken(null);
        session.set(null);
      }
    }
  }
  route();
}

boot();
