// The VM table and the screens that size and label a VM, end to end: the New VM page keeps to
// the host's CPUs; the table's search, order and filters live in the address; bulk start, force
// stop and delete; resizing a stopped VM; a note and tags; a phone's width; and VMs of the same
// name told apart where one is picked. Guests are stopped but for the two the bulk test starts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { ADMIN_PASSWORD, STATE_CHANGE, api, logIn, snap, useDistribox, withPage } from './harness.mjs';

const distribox = useDistribox();
const CAROL_PASSWORD = 'carol-password-1';

let adminToken = null;
let carolToken = null;

async function admin() {
  adminToken ??= (await api('mutation($u: String!, $p: String!) { login(username: $u, password: $p) { token } }', { u: 'admin', p: ADMIN_PASSWORD })).login.token;
  return adminToken;
}

/** A second account that may create VMs: the owner of some below. */
async function carol() {
  if (!carolToken) {
    await api(
      'mutation($input: CreateAccountInput!) { createAccount(input: $input) { account { id } } }',
      { input: { username: 'carol', password: CAROL_PASSWORD, policies: ['auth:me:get', 'vms:create', 'vms:get', 'vms:getById'] } },
      await admin(),
    );
    carolToken = (await api('mutation($u: String!, $p: String!) { login(username: $u, password: $p) { token } }', { u: 'carol', p: CAROL_PASSWORD })).login.token;
  }
  return carolToken;
}

/** Creates a stopped VM through the API and waits until it is. */
async function stoppedVm(name, { token, vcpus = 1, memoryMib = 256 } = {}) {
  const { createVm } = await api(
    'mutation($input: CreateVmInput!) { createVm(input: $input) { id } }',
    { input: { name, image: 'test-guest', vcpus, memoryMib, diskGib: 1, start: false } },
    token ?? (await admin()),
  );
  distribox.createdVmIds.add(createVm.id);
  const deadline = Date.now() + STATE_CHANGE;
  for (;;) {
    const { vm } = await api('query($id: ID!) { vm(id: $id) { state } }', { id: createVm.id }, await admin());
    if (vm?.state === 'STOPPED') return createVm.id;
    assert.ok(Date.now() < deadline, `${name} is created within ${STATE_CHANGE / 1000} s (it is ${vm?.state})`);
    await sleep(300);
  }
}

async function vmNames() {
  const { vms } = await api('{ vms(first: 200) { edges { node { name state } } } }', {}, await admin());
  return vms.edges.map((edge) => edge.node).filter((vm) => vm.state !== 'DELETED').map((vm) => vm.name);
}

async function overview(page) {
  await logIn(page, 'admin', ADMIN_PASSWORD);
  await page.waitForSelector('h1:has-text("Virtual machines")');
}

/** The ids of the table's rows, top to bottom. */
function shownRows(page) {
  return page.locator('table.vms tbody tr').evaluateAll((rows) => rows.map((row) => row.dataset.vmId));
}

async function rowsBecome(page, ids, what) {
  const want = JSON.stringify(ids);
  await page
    .waitForFunction((want) => JSON.stringify([...document.querySelectorAll('table.vms tbody tr')].map((row) => row.dataset.vmId)) === want, want)
    .catch(async () => assert.deepEqual(await shownRows(page), ids, what));
}

/** Whether the page is wider than the window (it would scroll sideways). */
function pageOverflow(page) {
  return page.evaluate(() => ({ scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth }));
}

test('the New VM page refuses more vCPUs than the host has, on the vCPU field, and creates nothing', { timeout: 90_000 }, async () => {
  const { host } = await api('{ host { cpus memoryAvailableMib } }', {}, await admin());
  await withPage(async (page) => {
    await overview(page);
    await page.click('a:has-text("New VM")');
    await page.waitForSelector('select[name=image] option[value=test-guest]', { state: 'attached' });
    const vcpus = page.locator('input[name=vcpus]');
    assert.equal(await vcpus.getAttribute('max'), String(Math.min(host.cpus, 64)), 'the form says the most it takes');
    assert.match(await page.locator('.field:has(input[name=vcpus]) .help').innerText(), new RegExp(`${host.cpus} CPUs`));

    // More memory than is free now: a warning, not a refusal.
    await page.fill('input[name=memoryMib]', String(host.memoryAvailableMib + 1024));
    await page.locator('[data-testid=memory-warning]').waitFor();
    await page.fill('input[name=memoryMib]', '256');
    assert.equal(await page.locator('[data-testid=memory-warning]').count(), 0, 'the warning leaves with the excess');

    await page.fill('input[name=name]', 'too-big');
    await vcpus.fill('64');
    await page.fill('input[name=diskGib]', '1');
    await page.click('button:has-text("Create VM")');
    const error = page.locator('input[name=vcpus][aria-invalid=true] ~ .field-error');
    await error.waitFor();
    assert.match(await error.innerText(), /cpu/i, 'the refusal is on the vCPU field');
    assert.match(page.url(), /\/vms\/new$/, 'still on the form');
    await snap(page, 'vms-01-vcpus-refused');
  });
  assert.ok(!(await vmNames()).includes('too-big'), 'no VM was created');
});

test('search, order and filters narrow the table and survive a reload', { timeout: 120_000 }, async () => {
  const alpha = await stoppedVm('alpha-web', { memoryMib: 384 });
  const beta = await stoppedVm('beta-db', { memoryMib: 512 });
  const gamma = await stoppedVm('gamma-web', { memoryMib: 256 });
  const carols = await stoppedVm('delta-web', { token: await carol() });

  await withPage(async (page) => {
    await overview(page);
    await rowsBecome(page, [alpha, beta, gamma, carols], 'every VM, oldest first');

    await page.fill('input[name=q]', 'web');
    await rowsBecome(page, [alpha, gamma, carols], 'the search keeps the web VMs');
    await page.click('table.vms thead button:has-text("Name")');
    await page.click('table.vms thead button:has-text("Name")');
    await rowsBecome(page, [gamma, carols, alpha], 'names Z–A');
    await page.selectOption('select[name=owner]', 'admin');
    await rowsBecome(page, [gamma, alpha], 'only the administrator’s');
    const address = new URL(page.url());
    assert.deepEqual(Object.fromEntries(address.searchParams), { q: 'web', owner: 'admin', sort: 'name', order: 'desc' });
    await snap(page, 'vms-02-filtered');

    await page.reload();
    await rowsBecome(page, [gamma, alpha], 'the same rows after a reload');
    assert.equal(await page.inputValue('input[name=q]'), 'web');
    assert.equal(await page.inputValue('select[name=owner]'), 'admin');

    // An id's start finds its VM; memory, largest first, orders them.
    await page.selectOption('select[name=owner]', '');
    await page.fill('input[name=q]', beta.slice(0, 8));
    await rowsBecome(page, [beta], 'the id prefix finds beta-db');
    await page.fill('input[name=q]', '');
    await page.selectOption('select[name=sort]', 'memory');
    await rowsBecome(page, [beta, alpha, gamma, carols], 'memory, largest first; ties oldest first');
    await page.click('[data-order]');
    await rowsBecome(page, [gamma, carols, alpha, beta], 'memory, smallest first');
  });
});

test('bulk: two stopped VMs started, then force stopped, then deleted after one confirmation', { timeout: 240_000 }, async () => {
  const one = await stoppedVm('bulk-1');
  const two = await stoppedVm('bulk-2');
  const bystander = await stoppedVm('bulk-bystander');
  const row = (page, id) => page.locator(`table.vms tr[data-vm-id="${id}"]`);
  const state = (page, id, value) => row(page, id).locator(`.badge[data-state=${value}]`).waitFor({ timeout: STATE_CHANGE });
  const report = (page) => page.locator('[data-testid=bulk-report]');

  await withPage(async (page) => {
    await overview(page);
    await page.fill('input[name=q]', 'bulk-');
    await rowsBecome(page, [one, two, bystander], 'the bulk VMs');
    await row(page, one).locator('.select-cell input').check();
    await row(page, two).locator('.select-cell input').check();
    assert.match(await page.locator('[data-testid=bulk-bar]').innerText(), /2 selected/);
    // Stopped VMs: nothing to force stop.
    assert.equal(await page.locator('[data-bulk=forceStop]').count(), 0, 'force stop is not offered for stopped VMs');

    await page.click('[data-bulk=start]');
    await report(page).filter({ hasText: 'Starting 2 VMs.' }).waitFor();
    await state(page, one, 'RUNNING');
    await state(page, two, 'RUNNING');
    // Their use shows once sampled.
    await row(page, one).locator('td[data-label=CPU]').filter({ hasText: '%' }).waitFor({ timeout: 30_000 });
    await snap(page, 'vms-03-bulk-started');

    // With a stopped VM selected too: it is left out, and the report says why.
    await row(page, bystander).locator('.select-cell input').check();
    assert.equal(await page.locator('[data-bulk=forceStop]').innerText(), 'Force stop 2');
    await page.click('[data-bulk=forceStop]');
    const confirm = page.locator('dialog[open]');
    assert.match(await confirm.locator('h2').innerText(), /Force stop 2 VMs\?/);
    assert.match(await confirm.innerText(), /bulk-bystander \(admin · [0-9a-f]{8}\): it is stopped/);
    await confirm.locator('button:has-text("Force stop 2 VMs")').click();
    await report(page).filter({ hasText: 'Force stopping 2 VMs.' }).waitFor();
    assert.match(await report(page).locator(`li[data-vm-id="${bystander}"][data-outcome=skipped]`).innerText(), /it is stopped/);
    await state(page, one, 'STOPPED');
    await state(page, two, 'STOPPED');

    await row(page, bystander).locator('.select-cell input').uncheck();
    await page.click('[data-bulk=delete]');
    assert.equal(await confirm.locator('h2').innerText(), 'Delete 2 VMs?');
    const named = await confirm.locator('[data-testid=bulk-confirm-list] li').allInnerTexts();
    assert.deepEqual(named, [`bulk-1 (admin · ${one.slice(0, 8)})`, `bulk-2 (admin · ${two.slice(0, 8)})`], 'the confirmation names the VMs');
    await snap(page, 'vms-04-bulk-delete-confirm');
    await confirm.locator('button:has-text("Delete 2 VMs")').click();
    await report(page).filter({ hasText: 'Deleting 2 VMs.' }).waitFor();
    await rowsBecome(page, [bystander], 'the deleted VMs leave the table');
  });
});

test('resize: a stopped VM takes its new size, and a value out of range is refused on its field', { timeout: 120_000 }, async () => {
  const id = await stoppedVm('resize-me');
  await withPage(async (page) => {
    await overview(page);
    await page.goto(`${distribox.base}/vms/${id}`);
    const specs = page.locator('dl.specs');
    await page.click('main .page-head button:has-text("Resize")');
    const dialog = page.locator('dialog[open][data-testid=resize-dialog]');
    assert.match(await dialog.locator('.field:has(input[name=diskGib]) .help').innerText(), /only grow/);

    await dialog.locator('input[name=vcpus]').fill('2');
    await dialog.locator('input[name=memoryMib]').fill('10');
    await dialog.locator('button[type=submit]').click();
    const memoryError = dialog.locator('input[name=memoryMib][aria-invalid=true] ~ .field-error');
    await memoryError.waitFor();
    assert.match(await memoryError.innerText(), /memory/i);
    await snap(page, 'vms-05-resize-refused');

    await dialog.locator('input[name=memoryMib]').fill('512');
    await dialog.locator('input[name=diskGib]').fill('2');
    await dialog.locator('button[type=submit]').click();
    await dialog.waitFor({ state: 'detached' });
    await page.waitForFunction(() => /vCPUs\s+2\s+Memory\s+512 MiB\s+Disk\s+2 GiB/.test(document.querySelector('dl.specs')?.innerText ?? ''));

    // Disks only grow.
    await page.click('main .page-head button:has-text("Resize")');
    await dialog.locator('input[name=diskGib]').fill('1');
    await dialog.locator('button[type=submit]').click();
    const diskError = dialog.locator('input[name=diskGib][aria-invalid=true] ~ .field-error');
    await diskError.waitFor();
    assert.match(await diskError.innerText(), /grow/);
    await dialog.locator('button:has-text("Cancel")').click();
    assert.match(await specs.innerText(), /Disk\s+2 GiB/);
  });
});

test('labels: a note and tags set on the VM page show in the table, and the search finds the VM by tag', { timeout: 120_000 }, async () => {
  const id = await stoppedVm('labelled');
  await withPage(async (page) => {
    await overview(page);
    await page.goto(`${distribox.base}/vms/${id}`);
    const labels = page.locator('[data-testid=vm-labels]');
    await labels.locator('button:has-text("Edit labels")').click();
    await labels.locator('input[name=tags]').fill('fine no!');
    await labels.locator('button:has-text("Save labels")').click();
    const tagsError = labels.locator('input[name=tags][aria-invalid=true] ~ .field-error');
    await tagsError.waitFor();
    assert.match(await tagsError.innerText(), /no!/);

    await labels.locator('textarea[name=note]').fill('For the Tuesday class');
    await labels.locator('input[name=tags]').fill('Lab-7, web');
    await labels.locator('button:has-text("Save labels")').click();
    await labels.locator('[data-testid=vm-note]:has-text("For the Tuesday class")').waitFor();
    assert.deepEqual(await labels.locator('.tag').allInnerTexts(), ['lab-7', 'web'], 'the tags as the server keeps them');
    await snap(page, 'vms-06-labels');

    await page.click('header nav a:has-text("Overview")');
    const row = page.locator(`table.vms tr[data-vm-id="${id}"]`);
    await row.waitFor();
    assert.deepEqual(await row.locator('.tag').allInnerTexts(), ['lab-7', 'web']);
    assert.match(await row.locator('.vm-note').innerText(), /Tuesday/);
    await page.fill('input[name=q]', 'lab-7');
    await rowsBecome(page, [id], 'the tag finds the VM');
  });
});

test('at 390 px neither the table nor a VM’s page scrolls sideways', { timeout: 90_000 }, async () => {
  const id = await stoppedVm('narrow');
  await withPage(async (page) => {
    await page.setViewportSize({ width: 390, height: 844 });
    await overview(page);
    const row = page.locator(`table.vms tr[data-vm-id="${id}"]`);
    await row.waitFor();
    let size = await pageOverflow(page);
    assert.ok(size.scrollWidth <= size.innerWidth, `the overview is ${size.scrollWidth} px wide in ${size.innerWidth}`);
    // The row's other actions open in a menu that stays in the window.
    await row.locator('button[aria-label^="More actions"]').click();
    const menu = page.locator('.popover-menu:popover-open');
    await menu.locator('button:has-text("Delete")').waitFor();
    const box = await menu.boundingBox();
    assert.ok(box.x >= 0 && box.x + box.width <= 390, `the menu fits (${box.x}–${box.x + box.width})`);
    await snap(page, 'vms-07-overview-390');
    await page.keyboard.press('Escape');

    await page.goto(`${distribox.base}/vms/${id}`);
    await page.locator('.history li').first().waitFor();
    size = await pageOverflow(page);
    assert.ok(size.scrollWidth <= size.innerWidth, `the VM page is ${size.scrollWidth} px wide in ${size.innerWidth}`);
    await snap(page, 'vms-08-detail-390');
  });
});

test('VMs of the same name are told apart by owner and short id in the grant picker', { timeout: 90_000 }, async () => {
  const mine = await stoppedVm('twin');
  const hers = await stoppedVm('twin', { token: await carol() });
  await withPage(async (page) => {
    await overview(page);
    await page.click('header nav a:has-text("Accounts")');
    const account = page.locator('tbody[data-account=carol]');
    await account.locator('button:has-text("Manage")').click();
    const picker = account.locator('select:has(option:has-text("Choose a VM"))');
    const options = await picker.locator('option').allInnerTexts();
    assert.ok(options.includes(`twin (admin · ${mine.slice(0, 8)})`), JSON.stringify(options));
    assert.ok(options.includes(`twin (carol · ${hers.slice(0, 8)})`), JSON.stringify(options));
    await snap(page, 'vms-09-grant-picker');
  });
});
