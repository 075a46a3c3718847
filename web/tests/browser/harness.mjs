// What every browser test file shares: a real Distribox (the built binary, its own PostgreSQL
// database and data folder, real QEMU guests through qemu:///system) driven by Debian's
// Chromium through playwright-core. A test file calls `useDistribox()` at its top level.
//
//   cd web && npm ci && npm run build && npm run test:browser
//
// Environment (defaults):
//   DISTRIBOX_BIN                ${CARGO_TARGET_DIR:-/var/tmp/distribox-target}/debug/distribox
//   DISTRIBOX_TEST_DATABASE_URL  postgres://postgres@127.0.0.1:5432 (a superuser; psql must work)
//   DISTRIBOX_TEST_IMAGES        /var/tmp/distribox-test-images (built by scripts/build-test-guest)
//   CHROMIUM                     /usr/bin/chromium
//   DISTRIBOX_TEST_ARTIFACTS     web/test-artifacts (screenshots of each screen)

import { after, before } from 'node:test';
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
const ARTIFACTS = process.env.DISTRIBOX_TEST_ARTIFACTS || path.join(import.meta.dirname, '..', '..', 'test-artifacts');

const RUN_ID = randomBytes(6).toString('hex');
const DB_NAME = `distribox_browser_${RUN_ID}`;
const DATA_DIR = path.join(TESTS_DIR, `browser-${RUN_ID}`);
export const ADMIN_PASSWORD = randomBytes(12).toString('base64url');

// Timeouts (ms).
const SERVER_START = 60_000;
export const STATE_CHANGE = 60_000; // created → Running, force stop → Stopped, delete → gone
export const GUEST_BOOT = 90_000; // until the guest's shell answers on the serial console
export const UI_STEP = 15_000; // any other wait for the page

let server = null; // the spawned `distribox serve`
let serverExit = null; // resolves when it exits
let serverOutput = '';
/** The server's address and what tests register for cleanup; filled in by `before`. */
export const distribox = { base: null, database: DB_NAME, dataDir: DATA_DIR, createdVmIds: null, browser: null };
let base = null; // http://127.0.0.1:<port>
let browser = null;
let hypervisorUri = LIBVIRT_URI; // test:///default keeps nothing once the server stops
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

/** Registers the hooks that start Distribox and Chromium before the file's tests and clean up after. */
export function useDistribox() {
  before(() => start(), { timeout: SERVER_START + 45_000 });
  after(() => stop(), { timeout: STATE_CHANGE + 45_000 });
  return distribox;
}

/** Runs `distribox serve` on `port` and waits until it answers. */
async function spawnServer(port, libvirtUri) {
  server = spawn(BIN, ['serve'], {
    env: {
      ...process.env,
      DISTRIBOX_LISTEN: `127.0.0.1:${port}`,
      DISTRIBOX_DATABASE_URL: `${PG_URL}/${DB_NAME}`,
      DISTRIBOX_DATA_DIR: DATA_DIR,
      DISTRIBOX_DOMAIN_TYPE: 'qemu',
      // Hermetic: not the host's /etc/distribox/distribox.env.
      DISTRIBOX_CONFIG: '/dev/null',
      DISTRIBOX_LIBVIRT_URI: libvirtUri,
      DISTRIBOX_ADMIN_PASSWORD: ADMIN_PASSWORD,
      // Usage samples every second, so charts have points within a test's patience.
      DISTRIBOX_USAGE_INTERVAL: '1',
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
}

/**
 * Stops the server and starts it again on the same port and database after `downMs`: what a
 * browser sees when the network or the server blips. Sessions and running VMs survive.
 */
export async function restartServer(downMs = 1_500) {
  const port = Number(new URL(base).port);
  server.kill('SIGKILL');
  await serverExit;
  await sleep(downMs);
  await spawnServer(port, hypervisorUri);
}

/**
 * Starts Distribox on a fresh database and data folder, and Chromium. `libvirtUri` picks the
 * hypervisor: real QEMU by default, libvirt's in-process `test:///default` for benchmarks that
 * need many VMs but no guests.
 */
export async function start({ libvirtUri = LIBVIRT_URI } = {}) {
  hypervisorUri = libvirtUri;
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
  distribox.base = base;
  distribox.createdVmIds = createdVmIds;
  await spawnServer(port, libvirtUri);
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
  distribox.browser = browser;
}

/** One GraphQL request, answering the whole body: refusals are in its `errors`, not thrown. */
export async function graphql(query, variables = {}, token = null) {
  const response = await fetch(`${base}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
    signal: AbortSignal.timeout(15_000),
  });
  return response.json();
}

/** One GraphQL request that must succeed: its `data`, or an error with the refusals. */
export async function api(query, variables = {}, token = null) {
  const body = await graphql(query, variables, token);
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

export async function stop() {
  const problems = [];
  await browser?.close().catch((error) => problems.push(`closing Chromium: ${error.message}`));
  if (server && server.exitCode === null && server.signalCode === null) {
    try {
      if (hypervisorUri === LIBVIRT_URI) await deleteVmsThroughApi();
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
}

// ---------------------------------------------------------------------------------------------
// Helpers

/**
 * Runs `body(page, { tolerating })` in a fresh browser context. Fails on page errors, console
 * errors, CSP violations, native dialogs and requests to any other host than the server; on
 * failure the error carries the page's URL and text and the server's output.
 */
export async function withPage(body) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  context.setDefaultTimeout(UI_STEP);
  const page = await context.newPage();
  const problems = [];
  // Console errors expected during one step only (see `tolerating` below), after the one that
  // is never the app's doing: libvirt adds and removes a tap interface whenever a guest starts
  // or stops, and Chromium takes that for a change of network and fails requests in flight.
  const tolerated = [/net::ERR_NETWORK_CHANGED/];
  const host = new URL(base).host;
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error' && !tolerated.some((pattern) => pattern.test(message.text()))) {
      problems.push(`console error: ${message.text()}`);
    }
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
    await body(page, {
      /** Runs `step`, during which console errors matching `patterns` are expected. */
      async tolerating(patterns, step) {
        const at = tolerated.length;
        tolerated.push(...patterns);
        try {
          return await step();
        } finally {
          tolerated.splice(at, patterns.length);
        }
      },
    });
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

export async function logIn(page, username, password) {
  // A guest starting meanwhile (libvirt adding its tap interface) can make Chromium drop the
  // app's script mid-load, leaving a blank page: load it once more then.
  for (let attempt = 1; ; attempt++) {
    await page.goto(`${base}/`);
    try {
      await page.waitForURL(/\/login/);
      break;
    } catch (error) {
      if (attempt === 2) throw error;
    }
  }
  await page.fill('#username', username);
  await page.fill('#password', password);
  await page.click('button[type=submit]');
}

/**
 * The session token of the browser `page` belongs to, from its HttpOnly cookie (which page
 * scripts can't read): for API calls made as the logged-in account.
 */
export async function sessionToken(page) {
  const cookie = (await page.context().cookies(base)).find((c) => c.name === 'distribox_session');
  assert.ok(cookie?.value, 'the browser holds a session cookie');
  return cookie.value;
}

export function terminalText(page) {
  return page.evaluate(() => document.querySelector('.xterm-rows')?.innerText ?? '');
}

/** Saves a screenshot of the page as a test artifact. */
export async function snap(page, name) {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/**
 * Types `command` into the serial console until a line of its output equals `expected`: the
 * guest may still be booting under TCG when the console opens.
 */
export async function runInTerminal(page, command, expected, timeout = GUEST_BOOT) {
  await page.waitForSelector('.xterm-helper-textarea', { state: 'attached' });
  const times = () =>
    page.evaluate(
      (want) => (document.querySelector('.xterm-rows')?.innerText ?? '').split('\n').filter((line) => line.trim() === want).length,
      expected,
    );
  // The console opens on what the guest printed before, which may already hold the line: only
  // a new one is an answer.
  const before = await times();
  const answered = async () => (await times()) > before;
  const deadline = Date.now() + timeout;
  let found = false;
  while (!found && Date.now() < deadline) {
    await page.focus('.xterm-helper-textarea');
    await page.keyboard.type(command);
    await page.keyboard.press('Enter');
    const until = Math.min(Date.now() + 4_000, deadline);
    while (!(found = await answered()) && Date.now() < until) await sleep(200);
  }
  assert.ok(found, `no line "${expected}" in the terminal within ${timeout / 1000} s; it shows:\n${await terminalText(page)}`);
}

/** Waits until noVNC's canvas shows the guest's screen (at least 0.5 % not background). */
export async function vncDrawn(page) {
  await page.waitForSelector('.vnc-screen canvas');
  const deadline = Date.now() + 30_000;
  let drawn = 0;
  while ((drawn = await vncDrawnShare(page)) < 0.005 && Date.now() < deadline) await sleep(250);
  assert.ok(drawn >= 0.005, `the VNC canvas shows the guest's screen (${(drawn * 100).toFixed(2)} % drawn)`);
}

/** The share of the noVNC canvas's pixels that differ from its most common colour (0–1). */
function vncDrawnShare(page) {
  return page.evaluate(() => {
    const canvas = document.querySelector('.vnc-screen canvas');
    if (!canvas || !canvas.width || !canvas.height) return 0;
    const { data } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
    const counts = new Map();
    for (let i = 0; i < data.length; i += 4) {
      const key = (data[i] << 16) | (data[i + 1] << 8) | data[i + 2];
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    const top = Math.max(...counts.values());
    return 1 - top / (data.length / 4);
  });
}

