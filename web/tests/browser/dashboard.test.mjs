// The dashboard and the consoles, end to end: log in, provision a VM and watch it run without
// reloading, use its serial and graphical consoles (through a server restart, and view-only),
// issue a credential, open the console with it as a visitor, and revoke it from a second
// browser while the visitor watches.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  ADMIN_PASSWORD,
  GUEST_BOOT,
  STATE_CHANGE,
  logIn,
  restartServer,
  runInTerminal,
  snap,
  terminalText,
  useDistribox,
  vncDrawn,
  withPage,
} from './harness.mjs';

const distribox = useDistribox();

// What the browser logs while the server is down (refused requests and websockets), and what
// noVNC logs when the relay closes its socket.
const SERVER_DOWN = [/WebSocket|ERR_CONNECTION_REFUSED/i];
const RELAY_CLOSED = [/Failed when connecting|Connection closed|WebSocket/i];

const status = (page) => page.locator('[data-testid=console-status]');
const connected = (page, timeout) =>
  page.waitForSelector('[data-testid=console-status]:has-text("Connected")', { timeout });

/** The server goes away for a moment: the console says so, then comes back by itself. */
async function survivesRestart(page, tolerating) {
  await tolerating(SERVER_DOWN, async () => {
    const restarted = restartServer();
    await page.waitForSelector('[data-testid=console-status]:has-text("Reconnecting")');
    await restarted;
    await connected(page, 30_000);
  });
}

test('provision, run, consoles, credential, revocation', { timeout: 480_000 }, async () => {
  await withPage(async (page, { tolerating }) => {
    const base = distribox.base;
    await logIn(page, 'admin', ADMIN_PASSWORD);
    await page.waitForSelector('h1:has-text("Virtual machines")');
    await page.waitForSelector('.live[data-status=live]');
    await snap(page, '01-overview-empty');
    // Gone if the page reloads: the states below must arrive live.
    await page.evaluate(() => {
      window.__noReload = true;
    });

    // Provision: a refusal lands on its field first, then the VM is created and started.
    const name = `<img src=x onerror=alert(1)> browser`;
    await page.click('a:has-text("New VM")');
    await page.waitForURL(/\/vms\/new$/);
    await page.waitForSelector('select[name=image] option[value=test-guest]', { state: 'attached' });
    await page.selectOption('select[name=image]', 'test-guest');
    await page.fill('input[name=name]', name);
    await page.fill('input[name=vcpus]', '1');
    await page.fill('input[name=memoryMib]', '1');
    await page.fill('input[name=diskGib]', '1');
    await page.click('button:has-text("Create VM")');
    const memoryError = page.locator('input[name=memoryMib][aria-invalid=true] ~ .field-error');
    await memoryError.waitFor();
    assert.match(await memoryError.innerText(), /memory/i, 'the refusal is shown on the memory field');
    await snap(page, '02-provision-refused');
    await page.fill('input[name=memoryMib]', '256');
    await page.click('button:has-text("Create VM")');
    await page.waitForURL(/\/vms\/[0-9a-f-]{36}$/);
    const vmId = page.url().split('/').pop();
    distribox.createdVmIds.add(vmId);

    // Back to the table: the VM reaches Running there, pushed by the server.
    await page.click('a:has-text("Overview")');
    const row = page.locator(`tr[data-vm-id="${vmId}"]`);
    await row.waitFor();
    assert.ok((await row.locator('th').innerText()).includes(name), 'the name renders as text');
    assert.equal(await page.locator('main img[src=x]').count(), 0, 'no element was injected');
    await row.locator('.badge[data-state=RUNNING]').waitFor({ timeout: STATE_CHANGE });
    assert.equal(await page.evaluate(() => window.__noReload), true, 'Running showed up without a reload');
    await snap(page, '03-overview-running');

    // Serial console: a command and its output, also after the server was away.
    await page.goto(`${base}/vms/${vmId}/console?kind=serial`);
    await connected(page);
    await runInTerminal(page, 'echo $((6*7))', '42', GUEST_BOOT);
    await snap(page, '04-serial-console');
    await survivesRestart(page, tolerating);
    await runInTerminal(page, 'echo back-$((6*7))', 'back-42', 30_000);

    // View only: shown as such, no toolbar, and typing reaches nothing.
    await page.goto(`${base}/vms/${vmId}/console?kind=serial&viewOnly=1`);
    await connected(page);
    await page.waitForSelector('[data-testid=view-only]');
    assert.equal(await page.locator('[role=toolbar]').count(), 0, 'no key toolbar when viewing only');
    await page.focus('.xterm-helper-textarea');
    await page.keyboard.type('echo viewonly-$((1+1))');
    await page.keyboard.press('Enter');
    await sleep(3_000);
    assert.ok(!(await terminalText(page)).includes('viewonly-2'), 'the guest never got the keys');

    // Graphical console: noVNC draws the guest's screen, and notices the server going away.
    await page.goto(`${base}/vms/${vmId}/console?kind=vnc`);
    await connected(page);
    await vncDrawn(page);
    await snap(page, '05-vnc-console');
    await survivesRestart(page, tolerating);
    await vncDrawn(page);

    // VM detail: history, then a credential whose secret is shown once.
    await page.goto(`${base}/vms/${vmId}`);
    await page.waitForSelector('.history li[data-event=VmStarted]');
    await page.fill('input[name=credentialName]', 'visitor');
    await page.click('button:has-text("Issue credential")');
    const secret = (await page.locator('[data-testid=secret]').innerText()).trim();
    assert.ok(secret.length >= 20, 'a secret is shown');
    await snap(page, '06-vm-detail-credential');
    await page.click('.secret-once button:has-text("Done")');
    assert.equal(await page.locator('[data-testid=secret]').count(), 0, 'the secret is gone once dismissed');

    // Monitor shows the VM's screen as a tile.
    await page.click('a:has-text("Monitor")');
    await page.waitForSelector(`.tile[data-vm-id="${vmId}"] img`, { timeout: 20_000 });
    await snap(page, '07-monitor');

    // The audit log leads from the serial session's entry to its replay.
    await page.click('header nav a:has-text("Audit log")');
    await page.selectOption('select[name=vmId]', vmId);
    await page.fill('input[name=action]', 'ConsoleOpened');
    await page.click('form.audit-filters button[type=submit]');
    await page.locator('tr[data-action=ConsoleOpened] button:has-text("Replay")').last().click();
    await page.waitForFunction(() => document.querySelector('[data-testid=transcript]')?.textContent.includes('42'));
    await snap(page, '07b-audit-replay');
    // The replay is a modal dialog: the page behind it is inert until it is closed.
    await page.locator('dialog[open][data-testid=replay] button:has-text("Close")').click();
    await page.locator('dialog[data-testid=replay]').waitFor({ state: 'detached' });

    // Log out; a visitor opens the graphical console with the credential alone.
    await page.click('button[aria-haspopup=menu]');
    await page.click('button[role=menuitem]:has-text("Log out")');
    await page.waitForURL(/\/login/);
    const cookies = await page.context().cookies(base);
    assert.equal(cookies.find((c) => c.name === 'distribox_session'), undefined, 'logged out');
    await page.goto(`${base}/connect`);
    await page.fill('#secret', secret);
    await page.click('button:has-text("Open console")');
    await connected(page);
    await vncDrawn(page);
    await snap(page, '08-credential-console');

    // Revoked from a second browser: the visitor is told, and the console does not come back.
    await tolerating(RELAY_CLOSED, async () => {
      await withPage(async (admin) => {
        await logIn(admin, 'admin', ADMIN_PASSWORD);
        await admin.waitForSelector('h1:has-text("Virtual machines")');
        await admin.goto(`${base}/vms/${vmId}`);
        const credential = admin.locator('tr[data-credential=visitor]');
        await credential.locator('button:has-text("Revoke")').click();
        await admin.click('dialog[open] button:has-text("Revoke")');
        await admin.locator('tr[data-credential=visitor][data-status=revoked]').waitFor();
      });
      const message = page.locator('[data-testid=console-message]');
      await message.waitFor({ timeout: 10_000 });
      assert.match(await message.innerText(), /revoked/i, 'the visitor is told the access was revoked');
      await sleep(2_000);
    });
    assert.equal(await status(page).innerText(), 'Disconnected', 'no reconnection after a revocation');
    await snap(page, '09-credential-revoked');
  });
});
