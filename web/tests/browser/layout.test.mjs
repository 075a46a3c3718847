// The dashboard as a new user meets it, at a phone's width (390 px) and a wide screen's
// (1400 px): no screen scrolls sideways, row buttons stay on at most two lines, a console
// replay opens where the click was, a snapshot revert is offered only while its VM is stopped,
// and the monitor tells an account without vms:screenshot what it lacks. One VM serves all.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { ADMIN_PASSWORD, GUEST_BOOT, STATE_CHANGE, api, logIn, runInTerminal, snap, useDistribox, withPage } from './harness.mjs';

const distribox = useDistribox();
const WATCHER_PASSWORD = 'watcher-password-1';
const VIEWPORTS = [
  { width: 390, height: 844 },
  { width: 1400, height: 900 },
];

let token = null;
let vmId = null;

// Starting or stopping a guest adds or removes a network interface on the host; Chromium drops
// the requests in flight when it notices, and says so on the console.
const NETWORK_CHANGED = [/ERR_NETWORK_CHANGED/];
const NETWORK_SETTLE_MS = 5_000;

async function adminToken() {
  token ??= (
    await api('mutation($u: String!, $p: String!) { login(username: $u, password: $p) { token } }', { u: 'admin', p: ADMIN_PASSWORD })
  ).login.token;
  return token;
}

/** Polls the VM through the API until `ready(vm)`. */
async function waitForVm(ready, what) {
  const deadline = Date.now() + STATE_CHANGE;
  for (;;) {
    const { vm } = await api('query($id: ID!) { vm(id: $id) { state busy snapshots { name status } } }', { id: vmId }, await adminToken());
    if (vm && ready(vm)) return vm;
    assert.ok(Date.now() < deadline, `${what} within ${STATE_CHANGE / 1000} s: ${JSON.stringify(vm)}`);
    await sleep(500);
  }
}

async function lifecycle(mutation) {
  await api(`mutation($id: ID!) { ${mutation}(id: $id) { id } }`, { id: vmId }, await adminToken());
}

/** The VM this file's tests share, running; a page opened afterwards is not caught by its network change. */
async function running() {
  const { vm } = await api('query($id: ID!) { vm(id: $id) { state } }', { id: vmId }, await adminToken());
  if (vm.state === 'RUNNING') return;
  await lifecycle('startVm');
  await waitForVm((vm) => vm.state === 'RUNNING' && !vm.busy, 'the VM runs');
  await sleep(NETWORK_SETTLE_MS);
}

test('a snapshot is offered for a revert only while its VM is stopped', { timeout: 240_000 }, async () => {
  const { createVm } = await api(
    'mutation($input: CreateVmInput!) { createVm(input: $input) { id } }',
    { input: { name: 'layout-vm', image: 'test-guest', vcpus: 1, memoryMib: 256, diskGib: 1, start: false } },
    await adminToken(),
  );
  vmId = createVm.id;
  distribox.createdVmIds.add(vmId);
  await waitForVm((vm) => vm.state === 'STOPPED', 'the VM is created');
  await api('mutation($vmId: ID!) { takeSnapshot(vmId: $vmId, name: "clean") { id } }', { vmId }, token);
  await waitForVm((vm) => vm.snapshots.some((s) => s.name === 'clean' && s.status === 'READY') && !vm.busy, 'the snapshot is taken');

  await withPage(async (page, { tolerating }) => {
    await logIn(page, 'admin', ADMIN_PASSWORD);
    await page.waitForSelector('h1:has-text("Virtual machines")');
    await page.goto(`${distribox.base}/vms/${vmId}`);
    const badge = (state) => page.locator(`main h1 .badge[data-state=${state}]`).waitFor({ timeout: STATE_CHANGE });
    const revert = page.locator('li[data-snapshot=clean] button:has-text("Revert")');
    await badge('STOPPED');
    assert.equal(await revert.isEnabled(), true, 'a stopped VM can be reverted');

    await tolerating(NETWORK_CHANGED, async () => {
      await lifecycle('startVm');
      await badge('RUNNING');
      await page.waitForFunction(() => document.querySelector('li[data-snapshot=clean] button')?.disabled);
      await sleep(NETWORK_SETTLE_MS);
    });
    assert.equal(await revert.isDisabled(), true, 'a running VM cannot be reverted');
    assert.equal(await revert.getAttribute('title'), 'Stop the VM to revert it to a snapshot', 'the title says what would allow it');
    await snap(page, 'layout-revert-while-running');

    await tolerating(NETWORK_CHANGED, async () => {
      await lifecycle('forceStopVm');
      await badge('STOPPED');
      await page.waitForFunction(() => !document.querySelector('li[data-snapshot=clean] button')?.disabled);
      await sleep(NETWORK_SETTLE_MS);
    });
    assert.equal(await revert.getAttribute('title'), null);
    // Offered again, and it is done.
    await revert.click();
    await page.click('dialog[open] button:has-text("Revert")');
    await page.locator('.history li[data-event=VmSnapshotReverted]').waitFor({ timeout: STATE_CHANGE });
  });
});

test('a console replay opens in view, over the audit log', { timeout: 300_000 }, async () => {
  await running();
  await withPage(async (page) => {
    // Short, so the list of entries reaches well below the fold.
    await page.setViewportSize({ width: 1280, height: 640 });
    await logIn(page, 'admin', ADMIN_PASSWORD);
    await page.waitForSelector('h1:has-text("Virtual machines")');
    await page.goto(`${distribox.base}/vms/${vmId}/console?kind=serial`);
    await page.waitForSelector('[data-testid=console-status]:has-text("Connected")');
    await runInTerminal(page, 'echo $((6*7))', '42', GUEST_BOOT);

    await page.goto(`${distribox.base}/audit`);
    await page.waitForSelector('tr[data-action=ConsoleOpened]');
    const height = await page.evaluate(() => document.documentElement.scrollHeight / window.innerHeight);
    assert.ok(height > 1.5, `the audit log is longer than the window (${height.toFixed(1)} windows), else a replay below it would show too`);
    await page.locator('tr[data-action=ConsoleOpened] button:has-text("Replay")').first().click();
    const replay = page.locator('[data-testid=replay]');
    await page.waitForFunction(() => document.querySelector('[data-testid=transcript]')?.textContent.includes('42'));
    const box = await replay.boundingBox();
    const viewport = page.viewportSize();
    assert.ok(box, 'the replay is shown');
    assert.ok(
      box.y >= 0 && box.x >= 0 && box.y + box.height <= viewport.height && box.x + box.width <= viewport.width,
      `the replay ${JSON.stringify(box)} lies inside the window ${JSON.stringify(viewport)}`,
    );
    assert.equal(await page.evaluate(() => document.activeElement?.closest('[data-testid=replay]') !== null), true, 'focus is in the replay');
    await snap(page, 'layout-audit-replay');

    // Escape closes it, back to the list.
    await page.keyboard.press('Escape');
    await replay.waitFor({ state: 'detached' });
  });
});

test('the monitor tells an account without vms:screenshot what it lacks, and what runs', { timeout: 120_000 }, async () => {
  await running();
  await api(
    'mutation($input: CreateAccountInput!) { createAccount(input: $input) { account { id } } }',
    { input: { username: 'watcher', password: WATCHER_PASSWORD, policies: ['auth:me:get', 'vms:get', 'vms:getById'] } },
    await adminToken(),
  );
  await withPage(async (page) => {
    await logIn(page, 'watcher', WATCHER_PASSWORD);
    await page.waitForSelector('h1:has-text("Virtual machines")');
    await page.goto(`${distribox.base}/monitor`);
    const listed = page.locator(`.unwatchable li[data-vm-id="${vmId}"]`);
    await listed.waitFor();
    assert.match(await page.locator('.unwatchable .notice-inline').innerText(), /lacks the vms:screenshot policy/);
    assert.match(await listed.innerText(), /layout-vm/);
    assert.equal(await listed.locator('.badge[data-state=RUNNING]').count(), 1, 'the VM is listed as running');
    assert.equal(await page.locator('.tile').count(), 0, 'no screen tiles');
    assert.equal(await page.getByText('No running VMs').count(), 0);
    await snap(page, 'layout-monitor-no-screenshot');
  });
});

/** The screens, each with what shows it is drawn. */
const screens = () => [
  ['overview', '/', `tr[data-vm-id="${vmId}"]`],
  ['new-vm', '/vms/new', 'select[name=image] option[value=test-guest]'],
  ['vm-detail', `/vms/${vmId}`, '.history li'],
  ['monitor', '/monitor', `.tile[data-vm-id="${vmId}"] img`],
  ['images', '/images', 'h1:has-text("Images")'],
  ['accounts', '/accounts', 'h1:has-text("Accounts")'],
  ['audit', '/audit', 'tr[data-action=ConsoleOpened]'],
  ['usage', '/usage', '.usage-period'],
  ['serial-console', `/vms/${vmId}/console?kind=serial`, '[data-testid=console-status]:has-text("Connected")'],
];

test('every screen fits 390 px and 1400 px wide without scrolling sideways', { timeout: 240_000 }, async () => {
  await running();
  await withPage(async (page) => {
    await logIn(page, 'admin', ADMIN_PASSWORD);
    await page.waitForSelector('h1:has-text("Virtual machines")');
    const problems = [];
    for (const viewport of VIEWPORTS) {
      await page.setViewportSize(viewport);
      for (const [name, route, drawn] of screens()) {
        await page.goto(`${distribox.base}${route}`);
        await page.locator(drawn).first().waitFor({ state: 'attached' });
        // Fonts, charts and late answers settle.
        await sleep(500);
        const { scrollWidth, innerWidth } = await page.evaluate(() => ({
          scrollWidth: document.documentElement.scrollWidth,
          innerWidth: window.innerWidth,
        }));
        if (scrollWidth > innerWidth) problems.push(`${name} at ${viewport.width} px is ${scrollWidth} px wide`);
        // Row buttons: at most two lines.
        const lines = await page
          .locator('.vm-table .actions')
          .evaluateAll((rows) => rows.map((row) => new Set([...row.children].map((button) => button.offsetTop)).size));
        if (lines.some((count) => count > 2)) problems.push(`${name} at ${viewport.width} px has row buttons on ${Math.max(...lines)} lines`);
        await snap(page, `layout-${viewport.width}-${name}`);
      }
    }

    // On a phone the menu folds behind a button.
    await page.setViewportSize(VIEWPORTS[0]);
    await page.goto(`${distribox.base}/`);
    const audit = page.locator('header nav a:has-text("Audit log")');
    assert.equal(await audit.isVisible(), false, 'the menu is folded');
    await page.click('header button:has-text("Menu")');
    await snap(page, 'layout-390-menu');
    await audit.click();
    await page.waitForURL(/\/audit$/);
    // The menu folds once the new screen has rendered.
    await audit.waitFor({ state: 'hidden' });

    assert.deepEqual(problems, [], 'every screen fits');
  });
});
