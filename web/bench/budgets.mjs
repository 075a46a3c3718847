// The web app's budgets, measured against a real `distribox serve` (its own database, libvirt's
// in-process test:///default host so a thousand VMs cost nothing) in Debian's Chromium:
//
// 1. first load of the dashboard: what the browser downloads for /, as built (manifest) and as
//    served (gzip on the wire);
// 2. a VM state change to the table showing it: the event's commit time (events.recorded_at)
//    to the moment the row's data-state changed in the page (same machine, same clock);
// 3. the table with 1,000 VMs: time to first render them all, the same latency with 1,000 rows,
//    and the main thread's long tasks while 100 VMs change state at once.
//
//   cd web && npm run build && npm run budgets        (after cargo build -p distribox-api)
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { execFileSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { ADMIN_PASSWORD, api, distribox, start, stop } from '../tests/browser/harness.mjs';

const DIST = path.join(import.meta.dirname, '..', 'dist');
const VMS = Number(process.env.BUDGET_VMS || 1000);
const SAMPLES = Number(process.env.BUDGET_SAMPLES || 30);
const PG_URL = (process.env.DISTRIBOX_TEST_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432').replace(/\/+$/, '');

function kib(bytes) {
  return `${(bytes / 1024).toFixed(1)} KiB`;
}

function percentile(values, p) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** Files the page loads before it runs: the entry, its static imports and their CSS. */
function firstLoadFiles() {
  const manifest = JSON.parse(fs.readFileSync(path.join(DIST, '.vite', 'manifest.json'), 'utf8'));
  const files = new Set(['index.html']);
  const visit = (key) => {
    const chunk = manifest[key];
    if (!chunk || files.has(chunk.file)) return;
    files.add(chunk.file);
    for (const css of chunk.css ?? []) files.add(css);
    for (const imported of chunk.imports ?? []) visit(imported);
  };
  visit('index.html');
  return [...files];
}

function bundleBudget() {
  let raw = 0;
  let gzip = 0;
  for (const file of firstLoadFiles()) {
    const body = fs.readFileSync(path.join(DIST, file));
    raw += body.length;
    gzip += zlib.gzipSync(body, { level: 6 }).length;
  }
  return { raw, gzip };
}

/** events.recorded_at (ms since the epoch) of the VM's latest event of this type. */
function committedAt(database, vmId, eventType) {
  const out = execFileSync(
    'psql',
    ['-XtAq', '-d', `${PG_URL}/${database}`, '-c',
      `SELECT (extract(epoch FROM recorded_at) * 1000)::float8 FROM events
        WHERE aggregate_id = '${vmId}' AND event_type = '${eventType}' ORDER BY sequence DESC LIMIT 1`],
    { encoding: 'utf8' },
  ).trim();
  return Number(out);
}

async function main() {
  assert(fs.existsSync(path.join(DIST, '.vite', 'manifest.json')), 'build the web app first: npm run build');
  const bundle = bundleBudget();
  await start({ libvirtUri: 'test:///default' });
  const database = distribox.database;
  try {
    const { login } = await api('mutation($p: String!) { login(username: "admin", password: $p) { token } }', { p: ADMIN_PASSWORD });
    const token = login.token;
    const create = (name) =>
      api('mutation($input: CreateVmInput!) { createVm(input: $input) { id } }', {
        input: { name, image: 'test-guest', vcpus: 1, memoryMib: 256, diskGib: 1, start: false },
      }, token).then((d) => d.createVm.id);

    // The first load, as the browser gets it.
    const context = await distribox.browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    let wire = 0;
    cdp.on('Network.loadingFinished', (e) => (wire += e.encodedDataLength));
    const loadStarted = Date.now();
    await page.goto(`${distribox.base}/login`, { waitUntil: 'load' });
    const loginLoadMs = Date.now() - loadStarted;
    const wireLogin = wire;
    await page.fill('#username', 'admin');
    await page.fill('#password', ADMIN_PASSWORD);
    await page.click('button[type=submit]');
    await page.waitForSelector('h1:has-text("Virtual machines")');
    await page.waitForSelector('.live[data-status=live]');

    // Records when each row's state changes, in page time converted to the epoch.
    const watch = () =>
      page.evaluate(() => {
        window.__changes = [];
        const observer = new MutationObserver((records) => {
          const now = performance.timeOrigin + performance.now();
          for (const r of records) {
            if (r.attributeName === 'data-state' && r.target.dataset.vmId) {
              window.__changes.push({ id: r.target.dataset.vmId, state: r.target.dataset.state, at: now });
            }
          }
        });
        observer.observe(document.querySelector('tbody') ?? document.body, { subtree: true, attributes: true, attributeFilter: ['data-state'] });
        window.__longTasks = [];
        new PerformanceObserver((list) => window.__longTasks.push(...list.getEntries().map((e) => e.duration))).observe({ entryTypes: ['longtask'] });
      });
    const shownAt = async (id, state, timeout = 20_000) => {
      const deadline = Date.now() + timeout;
      for (;;) {
        const hit = await page.evaluate(([i, s]) => window.__changes.find((c) => c.id === i && c.state === s), [id, state]);
        if (hit) return hit.at;
        if (Date.now() > deadline) throw new Error(`row ${id} never showed ${state}`);
        await sleep(20);
      }
    };
    const latencies = async (ids) => {
      const result = [];
      for (const id of ids) {
        await api('mutation($id: ID!) { startVm(id: $id) { id } }', { id }, token);
        const shown = await shownAt(id, 'RUNNING');
        result.push(shown - committedAt(database, id, 'VmStarted'));
        await api('mutation($id: ID!) { forceStopVm(id: $id) { id } }', { id }, token);
        await shownAt(id, 'STOPPED');
        await page.evaluate(() => (window.__changes = []));
      }
      return result;
    };

    // 2. One VM on the table.
    const few = [];
    for (let i = 0; i < 3; i++) few.push(await create(`latency-${i}`));
    await page.locator(`tr[data-vm-id="${few[2]}"][data-state=STOPPED]`).waitFor({ timeout: 30_000 });
    await watch();
    const small = await latencies(Array.from({ length: SAMPLES }, (_, i) => few[i % few.length]));

    // 3. A thousand.
    const seedStarted = Date.now();
    const ids = [...few];
    for (let i = ids.length; i < VMS; i += 20) {
      ids.push(...(await Promise.all(Array.from({ length: Math.min(20, VMS - i) }, (_, j) => create(`vm-${i + j}`)))));
    }
    const seedSeconds = (Date.now() - seedStarted) / 1000;
    // Every VM provisioned (STOPPED) before measuring.
    for (;;) {
      const pending = Number(execFileSync('psql', ['-XtAq', '-d', `${PG_URL}/${database}`, '-c', "SELECT count(*) FROM vms WHERE state <> 'STOPPED'"], { encoding: 'utf8' }).trim());
      if (pending === 0) break;
      await sleep(500);
    }
    const renderStarted = Date.now();
    await page.reload();
    await page.waitForFunction((n) => document.querySelectorAll('tbody tr[data-vm-id]').length >= n, VMS, { timeout: 120_000 });
    const renderMs = Date.now() - renderStarted;
    await watch();
    const large = await latencies(Array.from({ length: SAMPLES }, (_, i) => ids[(i * 37) % ids.length]));

    // A burst: 100 VMs (of those not measured above) start at once while the page keeps up.
    await page.evaluate(() => (window.__longTasks = []));
    const burst = ids.slice(-Math.min(100, ids.length - few.length));
    const burstStarted = Date.now();
    await Promise.all(burst.map((id) => api('mutation($id: ID!) { startVm(id: $id) { id } }', { id }, token)));
    await Promise.all(burst.map((id) => shownAt(id, 'RUNNING', 60_000)));
    const burstMs = Date.now() - burstStarted;
    const longTasks = await page.evaluate(() => window.__longTasks);
    // Input still answers: a click on a row's link opens its page.
    const clickStarted = Date.now();
    await page.click(`tr[data-vm-id="${ids[Math.floor(ids.length / 2)]}"] th a`);
    await page.waitForSelector('#history-title');
    const clickMs = Date.now() - clickStarted;

    const row = (name, value, target = '') => console.log(`| ${name} | ${value} | ${target} |`);
    console.log('\n| budget | measured | target |\n|---|---|---|');
    row('dashboard first load, as built (raw / gzip)', `${kib(bundle.raw)} / ${kib(bundle.gzip)}`, '≤ 250 KiB gzip');
    row('login page, on the wire (gzip)', `${kib(wireLogin)} in ${loginLoadMs} ms`, '');
    row('state change → table, 3 VMs (p50 / p95 / max)', `${percentile(small, 50).toFixed(0)} / ${percentile(small, 95).toFixed(0)} / ${Math.max(...small).toFixed(0)} ms`, '≤ 250 ms p95');
    row(`seeding ${VMS} VMs through the API`, `${seedSeconds.toFixed(1)} s`, '');
    row(`${VMS} VMs: load and render the table`, `${renderMs} ms`, '≤ 2 s');
    row(`state change → table, ${VMS} VMs (p50 / p95 / max)`, `${percentile(large, 50).toFixed(0)} / ${percentile(large, 95).toFixed(0)} / ${Math.max(...large).toFixed(0)} ms`, '≤ 250 ms p95');
    row(`100 VMs started at once, ${VMS} rows: all shown after`, `${burstMs} ms`, '');
    row('… long tasks meanwhile (count, longest)', `${longTasks.length}, ${longTasks.length ? Math.max(...longTasks).toFixed(0) : 0} ms`, 'none over 200 ms');
    row(`click a row with ${VMS} rows → its page`, `${clickMs} ms`, '');
    await context.close();
  } finally {
    await stop();
  }
}

function assert(ok, message) {
  if (!ok) throw new Error(message);
}

await main();
