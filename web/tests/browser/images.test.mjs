// The Images screen end to end: upload a qcow2 disk image from Chromium, watch the upload's
// progress bar, see the image become ready in the table without reloading, and find it offered
// on the New VM page. Then an upload cancelled half-way. The upload is slowed down in the
// browser (DevTools network throttling) so its progress is seen.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ADMIN_PASSWORD, STATE_CHANGE, UI_STEP, api, logIn, sessionToken, snap, useDistribox, withPage } from './harness.mjs';

const distribox = useDistribox();
const IMAGES = process.env.DISTRIBOX_TEST_IMAGES || '/var/tmp/distribox-test-images';
const GUEST = path.join(IMAGES, 'test-guest.qcow2');

/** Slows this page's uploads to `bytesPerSecond` (downloads stay as fast as they are). */
async function throttleUploads(page, bytesPerSecond) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', {
    offline: false,
    latency: 0,
    downloadThroughput: -1,
    uploadThroughput: bytesPerSecond,
  });
  return cdp;
}

/**
 * Records, from inside the page, every stage the upload panel shows and whether its progress
 * bar appeared with some bytes sent: a fast upload may show them for less time than a poll
 * takes. Read with `page.evaluate(() => window.__upload)`.
 */
function recordUpload(page) {
  return page.evaluate(() => {
    const seen = { stages: [], bar: false, sentShare: 0, importingRow: false };
    window.__upload = seen;
    const look = () => {
      const stage = document.querySelector('[data-testid=upload-status]')?.getAttribute('data-stage');
      if (stage && seen.stages[seen.stages.length - 1] !== stage) seen.stages.push(stage);
      const bar = document.querySelector('[data-testid=upload-progress]');
      if (bar) {
        seen.bar = true;
        if (bar.hasAttribute('value')) seen.sentShare = Math.max(seen.sentShare, bar.value / bar.max);
      }
      if (document.querySelector('tr[data-image-name="uploaded-guest"][data-status=IMPORTING]')) seen.importingRow = true;
    };
    new MutationObserver(look).observe(document.body, { subtree: true, childList: true, attributes: true, characterData: true });
    look();
  });
}

async function openImages(page) {
  await logIn(page, 'admin', ADMIN_PASSWORD);
  await page.waitForSelector('h1:has-text("Virtual machines")');
  await page.click('header nav a:has-text("Images")');
  await page.waitForURL(/\/images$/);
  await page.waitForSelector('h1:has-text("Images")');
}

test('a qcow2 uploaded from the browser becomes a ready image', { timeout: 240_000 }, async () => {
  assert.ok(fs.existsSync(GUEST), `no test guest image at ${GUEST}: run scripts/build-test-guest ${IMAGES}`);
  const size = fs.statSync(GUEST).size;
  const sha256 = createHash('sha256').update(fs.readFileSync(GUEST)).digest('hex');

  await withPage(async (page) => {
    await openImages(page);
    // The image the host placed in the images folder is listed, ready.
    await page.locator('tr[data-image-id="test-guest"][data-status=READY]').waitFor({ timeout: STATE_CHANGE });
    // The curated catalogue is shown (nothing is downloaded from it here).
    await page.waitForSelector('#catalogue-title');

    // Choose the file: the name is suggested from it, then changed.
    const form = page.locator('form.upload-form');
    await form.locator('input[name=file]').setInputFiles(GUEST);
    assert.equal(await form.locator('input[name=name]').inputValue(), 'test-guest', 'the name comes from the file');
    await form.locator('input[name=name]').fill('uploaded-guest');
    await form.locator('input[name=osFamily]').fill('linux');
    await form.locator('input[name=osVersion]').fill('busybox');
    await form.locator('input[name=defaultUser]').fill('root');
    await form.locator('select[name=firmware]').selectOption('bios');
    await form.locator('input[name=sha256]').fill(sha256);

    // About four seconds for the whole file, so the bar is there to see.
    await throttleUploads(page, Math.max(256 * 1024, Math.ceil(size / 4)));
    await recordUpload(page);
    await form.locator('button[type=submit]').click();
    const bar = page.locator('[data-testid=upload-progress]');
    await bar.waitFor();
    await snap(page, '17-images-uploading');

    // Sent, verified, stored: the panel says so and the table shows the image ready, live.
    await page.locator('[data-testid=upload-status][data-stage=done]').waitFor({ timeout: STATE_CHANGE });
    const seen = await page.evaluate(() => window.__upload);
    assert.ok(seen.bar, `the progress bar appeared (${JSON.stringify(seen)})`);
    assert.equal(seen.stages[0], 'sending', `the upload started by sending (${JSON.stringify(seen)})`);
    assert.equal(seen.stages[seen.stages.length - 1], 'done', `the upload ended done (${JSON.stringify(seen)})`);
    assert.ok(seen.sentShare > 0, `the bar showed bytes sent (${JSON.stringify(seen)})`);
    const row = page.locator('tr[data-image-name="uploaded-guest"]');
    await page.locator('tr[data-image-name="uploaded-guest"][data-status=READY]').waitFor({ timeout: STATE_CHANGE });
    assert.equal((await row.locator('td[data-label=Format]').innerText()).trim(), 'qcow2');
    assert.deepEqual((await row.locator('td[data-label=OS]').innerText()).trim().split('\n'), ['linux busybox', 'BIOS firmware']);
    assert.equal((await row.locator('td[data-label="Used by"]').innerText()).trim(), '0 VMs');
    assert.equal(await row.locator('progress').count(), 0, 'no progress bar once ready');
    await snap(page, '18-images-ready');
    const imageId = await row.getAttribute('data-image-id');

    // The API says the same.
    const token = await sessionToken(page);
    const { image } = await api(
      'query($id: ID!) { image(id: $id) { name status sourceKind source format sizeBytes } }',
      { id: imageId },
      token,
    );
    assert.deepEqual(
      { ...image, sizeBytes: image.sizeBytes > 0 },
      { name: 'uploaded-guest', status: 'READY', sourceKind: 'upload', source: 'test-guest.qcow2', format: 'qcow2', sizeBytes: true },
    );

    // New VM offers it.
    await page.goto(`${distribox.base}/vms/new`);
    await page.waitForSelector(`select[name=image] option[value="${imageId}"]`, { state: 'attached' });
  });
});

test('an upload can be cancelled half-way', { timeout: 120_000 }, async () => {
  await withPage(async (page) => {
    await openImages(page);
    const form = page.locator('form.upload-form');
    await form.locator('input[name=file]').setInputFiles(GUEST);
    await form.locator('input[name=name]').fill('cancelled-guest');
    // Slow enough that it is still sending when Cancel is clicked.
    await throttleUploads(page, 64 * 1024);
    await recordUpload(page);
    await form.locator('button[type=submit]').click();
    await page.locator('[data-testid=upload-status][data-stage=sending]').waitFor();
    await page.click('button:has-text("Cancel upload")');
    await page.locator('[data-testid=upload-status][data-stage=cancelled]').waitFor();
    const seen = await page.evaluate(() => window.__upload);
    assert.ok(!seen.stages.includes('done'), `the upload did not finish (${JSON.stringify(seen)})`);
    await snap(page, '19-images-upload-cancelled');
    // The server records why the upload failed and keeps nothing of it.
    const token = await sessionToken(page);
    const deadline = Date.now() + UI_STEP;
    let cancelled;
    for (;;) {
      const { images } = await api('{ images { name status failure } }', {}, token);
      cancelled = images.find((i) => i.name === 'cancelled-guest');
      if (cancelled?.status === 'FAILED' || Date.now() > deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.equal(cancelled?.status, 'FAILED', JSON.stringify(cancelled));
    assert.match(cancelled.failure, /upload/);
    const left = fs.readdirSync(path.join(distribox.dataDir, 'images')).filter((f) => !f.startsWith('test-guest'));
    const kept = left.filter((f) => f.endsWith('.partial') || !fs.statSync(path.join(distribox.dataDir, 'images', f)).size);
    assert.deepEqual(kept, [], `no partial file is left (${left})`);
  });
});
