// Browser tests of the web app: a real Distribox (the built binary, its own PostgreSQL database
// and data folder, real QEMU guests through qemu:///system) driven by Debian's Chromium through
// playwright-core.
//
//   cd web && npm ci && npm test
//
// Environment (defaults):
//   DISTRIBOX_BIN                ${CARGO_TARGET_DIR:-/var/tmp/distribox-target}/debug/distribox
//   DISTRIBOX_TEST_DATABASE_URL  postgres://postgres@127.0.0.1:5432 (a superuser; psql must work)
//   DISTRIBOX_TEST_IMAGES        /var/tmp/distribox-test-images (built by scripts/build-test-guest)
//   CHROMIUM                     /usr/bin/chromium

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { chromium } from 'playwright-core';

const TARGET_DIR = process.env.CARGO_TARGET_DIR || '/var/tmp/distribox-target';
const BIN = process.env.DISTRIBOX_BIN || path.join(TARGET_DIR, 'debug', 'distribox');
const PG_URL = (process.env.DISTRIBOX_TEST_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432').replace(/\/+$/, '');
const IMAGES = process.env.DISTRIBOX_TEST_IMAGES || '/var/tmp/distribox-test-images';
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const TESTS_DIR = '/var/tmp/distribox-tests';
const LIBVIRT_URI = 'qemu:///system';

const RUN_ID = randomBytes(6).toString('hex');
const DB_NAME = `distribox_browser_${RUN_ID}`;
const DATA_DIR = path.join(TESTS_DIR, `browser-${RUN_ID}`);
const ADMIN_PASSWORD = randomBytes(12).toString('base64url');

// Timeouts (ms).
const SERVER_START = 60_000;
const STATE_CHANGE = 60_000; // created → Running, force stop → Stopped, delete → gone
const GUEST_BOOT = 90_000; // until the guest's shell answers on the serial console
const UI_STEP = 15_000; // any other wait for the page

let server = null; // the spawned `distribox serve`
let serverExit = null; // resolves when it exits
let serverOutput = '';
let base = null; // http://127.0.0.1:<port>
let browser = null;
let dbCreated = false;
const createdVmIds = new Set(); // seen in the UI; deleted in `after` if a test left them

// ---------------------------------------------------------------------------------------------
// Setup and teardown

function psql(sql) {
  execFileSync('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', `${PG_URL}/postgres`, '-c', sql], {
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 30_000,
  });
}

async function freePort() {
  const probe = net.createServer();
  await new Promise((resolve, reject) => {
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', resolve);
  });
  const { port } = probe.address();
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/** A fresh data folder with the test guest image; world-traversable, QEMU runs as libvirt-qemu. */
function makeDataDir() {
  for (const file of ['test-guest.json', 'test-guest.qcow2']) {
    assert.ok(
      fs.existsSync(path.join(IMAGES, file)),
      `no test guest in ${IMAGES} (missing ${file}): run scripts/build-test-guest ${IMAGES}`,
    );
  }
  fs.mkdirSync(path.join(DATA_DIR, 'images'), { recursive: true, mode: 0o755 });
  fs.mkdirSync(path.join(DATA_DIR, 'vms'), { recursive: true, mode: 0o755 });
  for (const dir of [TESTS_DIR, DATA_DIR, path.join(DATA_DIR, 'vms'), path.join(DATA_DIR, 'images')]) {
    try {
      fs.chmodSync(dir, 0o755);
    } catch (error) {
      // Someone else's TESTS_DIR: fine as long as it is traversable.
      if (dir !== TESTS_DIR || (fs.statSync(dir).mode & 0o005) !== 0o005) throw error;
    }
  }
  for (const file of ['test-guest.json', 'test-guest.qcow2']) {
    fs.symlinkSync(path.join(IMAGES, file), path.join(DATA_DIR, 'images', file));
  }
}

async function waitForHealth() {
  const deadline = Date.now() + SERVER_START;
  let last = 'no answer';
  while (Date.now() < deadline) {
    if (server.exitCode !== null || server.signalCode !== null) {
      throw new Error(`distribox exited (${server.exitCode ?? server.signalCode}) before answering /healthz`);
    }
    try {
      const response = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(2_000) });
      if (response.ok) return;
      last = `HTTP ${response.status}`;
    } catch (error) {
      last = error.message;
    }
    await sleep(250);
  }
  throw new Error(`distribox did not answer ${base}/healthz within ${SERVER_START / 1000} s (last: ${last})`);
}

function serverLog() {
  // eslint-disable-next-line no-control-regex
  const lines = serverOutput.replace(/\x1b\[[0-9;]*m/g, '').trimEnd().split('\n');
  const tail = lines.slice(-150).join('\n');
  return `--- distribox output (${lines.length > 150 ? 'last 150 lines' : 'all'}) ---\n${tail}\n--- end ---`;
}

before(async () => {
  assert.ok(
    fs.existsSync(BIN),
    `no Distribox binary at ${BIN}: build it (cargo build -p distribox-api) or set DISTRIBOX_BIN`,
  );
  assert.ok(fs.existsSync(CHROMIUM), `no Chromium at ${CHROMIUM}: apt-get install chromium (or set CHROMIUM)`);
  makeDataDir();
  psql(`CREATE DATABASE ${DB_NAME}`);
  dbCreated = true;

  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  server = spawn(BIN, ['serve'], {
    env: {
      ...process.env,
      DISTRIBOX_LISTEN: `127.0.0.1:${port}`,
      DISTRIBOX_DATABASE_URL: `${PG_URL}/${DB_NAME}`,
      DISTRIBOX_DATA_DIR: DATA_DIR,
      DISTRIBOX_DOMAIN_TYPE: 'qemu',
      // Hermetic: not the host's /etc/distribox/distribox.env.
      DISTRIBOX_CONFIG: '/dev/null',
      DISTRIBOX_LIBVIRT_URI: LIBVIRT_URI,
      DISTRIBOX_ADMIN_PASSWORD: ADMIN_PASSWORD,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  serverExit = new Promise((resolve) => server.once('exit', resolve));
  server.stdout.on('data', (chunk) => (serverOutput += chunk));
  server.stderr.on('data', (chunk) => (serverOutput += chunk));
  server.once('error', (error) => (serverOutput += `spawn error: ${error.message}\n`));
  try {
    await waitForHealth();
  } catch (error) {
    error.message += `\n${serverLog()}`;
    throw error;
  }

  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
    timeout: 30_000,
  });
}, { timeout: SERVER_START + 45_000 });

async function api(query, variables = {}, token = null) {
  const response = await fetch(`${base}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
    signal: AbortSignal.timeout(15_000),
  });
  const body = await response.json();
  if (body.errors?.length) throw new Error(`GraphQL: ${body.errors.map((e) => e.message).join('; ')}`);
  return body.data;
}

/** Deletes every VM of this server through the API (a test that failed half-way leaves some). */
async function deleteVmsThroughApi() {
  const { login } = await api(
    'mutation($u: String!, $p: String!) { login(username: $u, password: $p) { token } }',
    { u: 'admin', p: ADMIN_PASSWORD },
  );
  const list = async () =>
    (await api('{ vms(first: 100) { edges { node { id state } } } }', {}, login.token)).vms.edges
      .map((edge) => edge.node)
      .filter((vm) => vm.state !== 'DELETED');
  const deadline = Date.now() + STATE_CHANGE;
  const asked = new Set();
  for (let vms = await list(); vms.length; vms = await list()) {
    for (const vm of vms) createdVmIds.add(vm.id);
    if (Date.now() > deadline) throw new Error(`VMs left after ${STATE_CHANGE / 1000} s: ${JSON.stringify(vms)}`);
    for (const vm of vms) {
      try {
        if (['RUNNING', 'STARTING'].includes(vm.state)) {
          await api('mutation($id: ID!) { forceStopVm(id: $id) { id } }', { id: vm.id }, login.token);
        } else if (['STOPPED', 'FAILED', 'PENDING'].includes(vm.state) && !asked.has(vm.id)) {
          await api('mutation($id: ID!) { deleteVm(id: $id) }', { id: vm.id }, login.token);
          asked.add(vm.id);
        }
      } catch {
        // A state change raced us: look again.
      }
    }
    await sleep(1_000);
  }
}

/** Last resort when the server cannot: removes the libvirt domains of the VMs this run made. */
function deleteDomainsWithVirsh() {
  for (const id of createdVmIds) {
    for (const args of [['destroy'], ['undefine', '--nvram'], ['undefine']]) {
      try {
        execFileSync('virsh', ['-c', LIBVIRT_URI, ...args, `distribox-${id}`], { stdio: 'ignore', timeout: 30_000 });
      } catch {
        // not running / already gone
      }
    }
  }
}

after(async () => {
  const problems = [];
  await browser?.close().catch((error) => problems.push(`closing Chromium: ${error.message}`));
  if (server && server.exitCode === null && server.signalCode === null) {
    try {
      await deleteVmsThroughApi();
    } catch (error) {
      problems.push(`deleting VMs through the API: ${error.message}`);
      deleteDomainsWithVirsh();
    }
    server.kill('SIGTERM');
    const exited = await Promise.race([serverExit.then(() => true), sleep(10_000, false, { ref: false })]);
    if (!exited) {
      server.kill('SIGKILL');
      await serverExit;
    }
  } else if (createdVmIds.size) {
    deleteDomainsWithVirsh();
  }
  if (dbCreated) {
    try {
      psql(`DROP DATABASE IF EXISTS ${DB_NAME} WITH (FORCE)`);
    } catch (error) {
      problems.push(`dropping ${DB_NAME}: ${error.stderr || error.message}`);
    }
  }
  fs.rmSync(DATA_DIR, { recursive: true, force: true });
  if (problems.length) {
    throw new Error(`cleanup: ${problems.join('\n')}\n${serverLog()}`);
  }
}, { timeout: STATE_CHANGE + 45_000 });

// ---------------------------------------------------------------------------------------------
// Helpers

/**
 * Runs `body(page)` in a fresh browser context. Fails on page errors, console errors, CSP
 * violations, native dialogs and requests to any other host than the server; on failure the
 * error carries the page's URL and text and the server's output.
 */
async function withPage(body) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  context.setDefaultTimeout(UI_STEP);
  const page = await context.newPage();
  const problems = [];
  const host = new URL(base).host;
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console error: ${message.text()}`);
  });
  page.on('dialog', (dialog) => {
    problems.push(`native dialog (${dialog.type()}): ${dialog.message()}`);
    dialog.dismiss().catch(() => {});
  });
  page.on('request', (request) => {
    const url = new URL(request.url());
    if (!['data:', 'blob:'].includes(url.protocol) && url.host !== host) {
      problems.push(`request to another host: ${request.url()}`);
    }
  });
  page.on('websocket', (ws) => {
    if (new URL(ws.url()).host !== host) problems.push(`websocket to another host: ${ws.url()}`);
  });
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) =>
      console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`),
    );
  });
  try {
    await body(page);
    assert.deepEqual(problems, [], 'the page had problems');
  } catch (error) {
    const text = await page
      .evaluate(() => document.body?.innerText ?? '')
      .catch((e) => `(unavailable: ${e.message})`);
    error.message +=
      `\nproblems: ${JSON.stringify(problems, null, 2)}` +
      `\npage ${page.url()}:\n${text}\n${serverLog()}`;
    throw error;
  } finally {
    await context.close().catch(() => {});
  }
}

async function logIn(page, password) {
  await page.goto(`${base}/`);
  await page.waitForURL(/\/login/);
  await page.fill('#username', 'admin');
  await page.fill('#password', password);
  await page.click('button[type=submit]');
}

function terminalText(page) {
  return page.evaluate(() => document.querySelector('.xterm-rows')?.innerText ?? '');
}

// ---------------------------------------------------------------------------------------------
// Tests

test('log in, create a VM, watch it run, use its serial console, stop and delete it', { timeout: 240_000 }, async () => {
  await withPage(async (page) => {
    await logIn(page, ADMIN_PASSWORD);
    await page.waitForSelector('h1:has-text("Virtual machines")');
    await page.waitForSelector('#live[data-status=live]');
    // Gone if the page reloads: the states below must arrive live.
    await page.evaluate(() => {
      window.__distriboxTestNoReload = true;
    });

    // Create, with "Start it now" checked; the name would run script if rendered as HTML.
    const name = `<script>alert(1)</script> browser-${RUN_ID}`;
    await page.click('a:has-text("New VM")');
    await page.waitForURL(/\/vms\/new$/);
    await page.waitForSelector('#image option[value=test-guest]', { state: 'attached' });
    await page.selectOption('#image', 'test-guest');
    await page.fill('#name', name);
    await page.fill('#vcpus', '1');
    await page.fill('#memory', '256');
    await page.fill('#disk', '1');
    await page.check('#start');
    await page.click('button:has-text("Create VM")');
    await page.waitForURL(`${base}/`);

    const row = page.locator('tbody tr', { has: page.locator('.vm-name', { hasText: name }) });
    await row.waitFor();
    const vmId = await row.getAttribute('data-vm-id');
    assert.ok(vmId, 'the row carries the VM id');
    createdVmIds.add(vmId);

    assert.equal(await row.locator('.vm-name').textContent(), name, 'the name renders as text');
    assert.ok((await row.innerText()).includes(name), 'the row text holds the literal name');
    assert.equal(await page.locator('main script, tbody script').count(), 0, 'no script element was injected');

    await row.locator('.badge[data-state=RUNNING]').waitFor({ timeout: STATE_CHANGE });
    assert.equal(
      await page.evaluate(() => window.__distriboxTestNoReload),
      true,
      'Running showed up without reloading the page',
    );

    // Serial console: type until the guest's shell (still booting under TCG) answers.
    await row.locator('button[data-action=console]').click();
    await page.waitForURL(/\/console$/);
    await page.waitForSelector('.conn-status:has-text("Connected")', { timeout: 20_000 });
    await page.waitForSelector('.xterm-helper-textarea', { state: 'attached' });
    await page.click('.terminal');
    const answered = () =>
      page.evaluate(() =>
        (document.querySelector('.xterm-rows')?.innerText ?? '').split('\n').some((line) => line.trim() === '42'),
      );
    const bootDeadline = Date.now() + GUEST_BOOT;
    let found = false;
    while (!found && Date.now() < bootDeadline) {
      await page.focus('.xterm-helper-textarea');
      await page.keyboard.type('echo $((6*7))');
      await page.keyboard.press('Enter');
      const until = Math.min(Date.now() + 4_000, bootDeadline);
      while (!(found = await answered()) && Date.now() < until) await sleep(200);
    }
    assert.ok(
      found,
      `no line "42" in the terminal within ${GUEST_BOOT / 1000} s; it shows:\n${await terminalText(page)}`,
    );

    // Back, force stop, delete.
    await page.click('a.back');
    await page.waitForURL(`${base}/`);
    await row.locator('.badge[data-state=RUNNING]').waitFor();
    await row.locator('button[data-action=stop]').click();
    await page.waitForSelector('dialog#confirm[open]');
    await page.click('#confirm-ok');
    await row.locator('.badge[data-state=STOPPED]').waitFor({ timeout: STATE_CHANGE });

    await row.locator('button[data-action=delete]:enabled').click();
    await page.waitForSelector('dialog#confirm[open]');
    await page.click('#confirm-ok');
    await page.locator(`tr[data-vm-id="${vmId}"]`).waitFor({ state: 'detached', timeout: STATE_CHANGE });
    assert.equal(await page.locator(`tr[data-vm-id="${vmId}"]`).count(), 0, 'the row is gone');
  });
});

test('wrong password shows an error and no token is stored', { timeout: 60_000 }, async () => {
  await withPage(async (page) => {
    await logIn(page, `not-${ADMIN_PASSWORD}`);
    const error = page.locator('#login-error:not([hidden])');
    await error.waitFor();
    assert.match(await error.innerText(), /\S/, 'the error says something');
    assert.match(page.url(), /\/login/, 'still on the login page');
    await page.waitForSelector('button[type=submit]:enabled');
    const stored = await page.evaluate(() => ({
      token: sessionStorage.getItem('distribox.token'),
      session: Object.keys(sessionStorage),
      local: Object.keys(localStorage),
    }));
    assert.deepEqual(stored, { token: null, session: [], local: [] }, 'nothing is stored');
    assert.equal(await page.locator('#session').isHidden(), true, 'no session is shown');
  });
});
