// Usage reports end to end: a running VM with a serial console session shows up in the report
// by VM and by account, as bars and in the CSV export; its page charts its samples with uPlot;
// and an account without usage:get sees no Usage screen and is told which policy it lacks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { ADMIN_PASSWORD, GUEST_BOOT, STATE_CHANGE, UI_STEP, api, graphql, logIn, runInTerminal, sessionToken, snap, useDistribox, withPage } from './harness.mjs';

const distribox = useDistribox();
const CSV_HEADER =
  'key,label,running_hours,vcpu_hours,memory_gib_hours,cpu_seconds,memory_avg_mib,memory_peak_mib,' +
  'disk_read_bytes,disk_write_bytes,net_rx_bytes,net_tx_bytes,console_sessions,console_minutes';

async function adminToken() {
  const { login } = await api('mutation($u: String!, $p: String!) { login(username: $u, password: $p) { token } }', {
    u: 'admin',
    p: ADMIN_PASSWORD,
  });
  return login.token;
}

/** Creates and starts a VM through the API and waits until it runs. */
async function runningVm(token, name) {
  const { createVm } = await api(
    'mutation($input: CreateVmInput!) { createVm(input: $input) { id } }',
    { input: { name, image: 'test-guest', vcpus: 1, memoryMib: 256, diskGib: 1, start: true } },
    token,
  );
  distribox.createdVmIds.add(createVm.id);
  const deadline = Date.now() + STATE_CHANGE;
  for (;;) {
    const { vm } = await api('query($id: ID!) { vm(id: $id) { state } }', { id: createVm.id }, token);
    if (vm?.state === 'RUNNING') return createVm.id;
    assert.ok(Date.now() < deadline, `the VM runs within ${STATE_CHANGE / 1000} s (it is ${vm?.state})`);
    await sleep(500);
  }
}

/** Shows the report with the form's settings until `row` (a locator) satisfies `ready`: sessions are counted once recorded. */
async function showUntil(page, row, ready, what) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    await page.click('form.usage-form button[type=submit]');
    await page.waitForSelector('.usage-period, .empty, .form-error');
    if ((await row.count()) && (await ready(row))) return;
    assert.ok(Date.now() < deadline, `${what} within 30 s; the page shows:\n${await page.locator('main').innerText()}`);
    await sleep(1_000);
  }
}

test('a VM’s use shows in the report, as bars, in the export and on its page', { timeout: 300_000 }, async () => {
  const token = await adminToken();
  const vmId = await runningVm(token, 'usage-vm');

  await withPage(async (page) => {
    const base = distribox.base;
    await logIn(page, 'admin', ADMIN_PASSWORD);
    await page.waitForSelector('h1:has-text("Virtual machines")');

    // A serial console session, briefly: leaving the page ends it.
    await page.goto(`${base}/vms/${vmId}/console?kind=serial`);
    await page.waitForSelector('[data-testid=console-status]:has-text("Connected")');
    await runInTerminal(page, 'echo $((6*7))', '42', GUEST_BOOT);
    await page.goto(`${base}/`);
    await page.waitForSelector('h1:has-text("Virtual machines")');

    // The last 24 hours by VM: the VM ran, and its console was opened.
    await page.click('header nav a:has-text("Usage")');
    await page.waitForURL(/\/usage/);
    await page.selectOption('select[name=period]', '24h');
    await page.selectOption('select[name=groupBy]', 'VM');
    const vmRow = page.locator(`.usage-table tbody tr[data-key="${vmId}"]`);
    await showUntil(
      page,
      vmRow,
      async (row) => Number(await row.getAttribute('data-running-hours')) > 0 && Number(await row.getAttribute('data-console-sessions')) >= 1,
      'the VM’s row with running hours and a console session',
    );
    assert.equal(await vmRow.locator('th').innerText(), 'usage-vm');
    assert.match(page.url(), /period=24h/, 'the period is in the address');
    assert.match(page.url(), /group=vm/, 'the grouping is in the address');
    await page.locator('.usage-table tfoot tr').waitFor();

    // Bars: the only VM that ran is the widest.
    const bar = page.locator(`.usage-bars li[data-key="${vmId}"] .bar`);
    await bar.waitFor();
    assert.ok((await page.locator('.usage-bars .bar').count()) >= 1, 'the chart has bars');
    assert.ok((await bar.evaluate((el) => el.getBoundingClientRect().width)) > 0, 'the VM’s bar has a width');
    await page.selectOption('select[name=measure]', 'runningHours');
    await page.locator('.usage-bars h2:has-text("Running hours")').waitFor();
    await page.locator('.usage-chart[data-chart=host-cpu] canvas').waitFor();
    await snap(page, '17-usage-by-vm');

    // The export is the same report, as CSV.
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('button:has-text("Export CSV")')]);
    assert.match(download.suggestedFilename(), /^distribox-usage-.*\.csv$/);
    const csv = fs.readFileSync(await download.path(), 'utf8');
    const [header, ...lines] = csv.trim().split(/\r?\n/);
    assert.equal(header, CSV_HEADER);
    assert.ok(lines.some((line) => line.startsWith(`${vmId},`)), `the VM's row is exported:\n${csv}`);

    // By account: the administrator's row. The address keeps the settings through a reload.
    await page.selectOption('select[name=groupBy]', 'ACCOUNT');
    await page.click('form.usage-form button[type=submit]');
    await page.waitForURL(/group=account/);
    const adminRow = page.locator('.usage-table tbody tr:has(th:text-is("admin"))');
    await adminRow.waitFor();
    await page.reload();
    await adminRow.waitFor();
    assert.equal(await page.locator('select[name=groupBy]').inputValue(), 'ACCOUNT');
    assert.equal(await page.locator('select[name=period]').inputValue(), '24h');
    await snap(page, '18-usage-by-account');

    // A period that ends before it starts is refused on the form.
    await page.selectOption('select[name=period]', 'custom');
    await page.fill('input[name=from]', '2026-03-02T00:00');
    await page.fill('input[name=to]', '2026-03-01T00:00');
    await page.click('form.usage-form button[type=submit]');
    await page.locator('form.usage-form [aria-invalid=true] ~ .field-error').waitFor();
    await snap(page, '19-usage-refused');

    // The VM's page charts its samples; the sampler runs every second here.
    await page.goto(`${base}/vms/${vmId}`);
    await page.locator('#usage-title').waitFor();
    await page.locator('.usage-chart[data-chart=cpu] canvas').waitFor();
    await page.waitForFunction(() => Number(document.querySelector('.usage-chart[data-chart=cpu]')?.dataset.points) >= 1, null, {
      timeout: 60_000,
    });
    for (const chart of ['memory', 'disk', 'network']) {
      await page.locator(`.usage-chart[data-chart=${chart}] canvas`).waitFor({ timeout: UI_STEP });
    }
    await page.locator('#usage-title').scrollIntoViewIfNeeded();
    await snap(page, '20-vm-usage-charts');
  });
});

test('without usage:get there is no Usage screen, and the API names the policy', { timeout: 60_000 }, async () => {
  const admin = await adminToken();
  const password = 'no-usage-password-1';
  await api(
    'mutation($input: CreateAccountInput!) { createAccount(input: $input) { account { id } } }',
    { input: { username: 'nousage', password, policies: ['auth:me:get', 'vms:get', 'vms:getById'] } },
    admin,
  );

  await withPage(async (page) => {
    await logIn(page, 'nousage', password);
    await page.waitForSelector('h1:has-text("Virtual machines")');
    const nav = await page.locator('header nav a').allInnerTexts();
    assert.ok(!nav.includes('Usage'), `no Usage item: ${JSON.stringify(nav)}`);

    await page.goto(`${distribox.base}/usage`);
    await page.locator('.form-error:has-text("usage:get")').waitFor();
    assert.equal(await page.locator('.usage-chart canvas').count(), 0, 'no charts');
    await snap(page, '21-usage-forbidden');

    const token = await sessionToken(page);
    const body = await graphql(
      'query($from: DateTime!, $to: DateTime!) { usageReport(from: $from, to: $to) { totals { key } } }',
      { from: new Date(Date.now() - 3_600_000).toISOString(), to: new Date().toISOString() },
      token,
    );
    assert.equal(body.errors?.[0]?.extensions?.code, 'FORBIDDEN');
    assert.equal(body.errors[0].extensions.policy, 'usage:get');
  });
});
