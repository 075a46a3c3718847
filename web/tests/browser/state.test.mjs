// What the server says about how guests run reaches the page live: a pause made behind
// Distribox's back (virsh suspend) shows as PAUSED with its reason within seconds, on the VM's
// page and as its badge's tooltip in the table, and leaves again on resume; the host panel names
// how guests are virtualised.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { ADMIN_PASSWORD, STATE_CHANGE, api, logIn, snap, useDistribox, withPage } from './harness.mjs';

const distribox = useDistribox();

/** How long a change made with virsh may take to show: libvirt's event, then one refetch. */
const LIVE = 5_000;

function virsh(command, vmId) {
  execFileSync('virsh', ['-c', 'qemu:///system', command, `distribox-${vmId}`], { stdio: 'pipe', timeout: 30_000 });
}

async function waitForState(token, id, wanted) {
  const deadline = Date.now() + STATE_CHANGE;
  for (;;) {
    const { vm } = await api('query($id: ID!) { vm(id: $id) { state } }', { id }, token);
    const state = vm?.state ?? 'DELETED';
    if (wanted.includes(state)) return state;
    assert.ok(Date.now() < deadline, `the VM reaches ${wanted.join(' or ')} within ${STATE_CHANGE / 1000} s (it is ${state})`);
    await sleep(500);
  }
}

test('a pause outside Distribox shows live with its reason; the host panel names the domain type', { timeout: 300_000 }, async () => {
  const { login } = await api('mutation($u: String!, $p: String!) { login(username: $u, password: $p) { token } }', {
    u: 'admin',
    p: ADMIN_PASSWORD,
  });
  const admin = login.token;
  const { createVm } = await api(
    'mutation($input: CreateVmInput!) { createVm(input: $input) { id } }',
    { input: { name: 'paused-vm', image: 'test-guest', vcpus: 1, memoryMib: 256, diskGib: 1, start: true } },
    admin,
  );
  const vmId = createVm.id;
  distribox.createdVmIds.add(vmId);
  await waitForState(admin, vmId, ['RUNNING']);

  await withPage(async (page) => {
    await logIn(page, 'admin', ADMIN_PASSWORD);
    await page.waitForSelector('h1:has-text("Virtual machines")');

    // The test server is told DISTRIBOX_DOMAIN_TYPE=qemu: software emulation, chosen, so no warning.
    const virtualisation = page.locator('.host .host-virtualisation');
    assert.match(await virtualisation.innerText(), /software emulation \(QEMU\/TCG\), slow/, 'the host panel names the domain type');
    assert.equal(await virtualisation.getAttribute('data-domain-type'), 'qemu');
    assert.equal(await page.locator('[data-testid=hypervisor-warning]').count(), 0, 'no warning when emulation was asked for');

    await page.locator(`tr[data-vm-id="${vmId}"] a:has-text("paused-vm")`).click();
    const badge = page.locator('main h1 .badge');
    const reason = page.locator('[data-testid=state-reason]');
    await page.locator('main h1 .badge[data-state=RUNNING]').waitFor();
    assert.equal(await reason.count(), 0, 'a running VM needs no reason');
    // Gone if the page reloads: what follows must arrive live.
    await page.evaluate(() => {
      window.__noReload = true;
    });

    virsh('suspend', vmId);
    await page.locator('main h1 .badge[data-state=PAUSED]').waitFor({ timeout: LIVE });
    await reason.waitFor({ timeout: LIVE });
    assert.match(await reason.innerText(), /outside Distribox/, 'the page says who paused it');
    assert.equal(await reason.getAttribute('data-severity'), 'info', 'a pause someone chose is no fault');
    await snap(page, 'state-01-paused-outside');

    // In the table the reason is the badge's tooltip (and its accessible text), not a wider row.
    await page.click('a.back');
    const rowBadge = page.locator(`tr[data-vm-id="${vmId}"] .badge[data-state=PAUSED]`);
    await rowBadge.waitFor();
    assert.match((await rowBadge.getAttribute('title')) ?? '', /outside Distribox/, 'the table badge explains the pause');
    await page.goBack();
    await page.locator('main h1 .badge[data-state=PAUSED]').waitFor();

    virsh('resume', vmId);
    await page.locator('main h1 .badge[data-state=RUNNING]').waitFor({ timeout: LIVE });
    await reason.waitFor({ state: 'detached', timeout: LIVE });
    assert.equal(await badge.getAttribute('title'), null, 'no reason is left on the badge');
    assert.equal(await page.evaluate(() => window.__noReload), true, 'all of it arrived without a reload');
  });

  await api('mutation($id: ID!) { forceStopVm(id: $id) { id } }', { id: vmId }, admin);
  await waitForState(admin, vmId, ['STOPPED']);
  await api('mutation($id: ID!) { deleteVm(id: $id) }', { id: vmId }, admin);
  await waitForState(admin, vmId, ['DELETED']);
});
