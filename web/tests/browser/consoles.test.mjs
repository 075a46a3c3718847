// The visitor's consoles: an access code shared in one link, kept for the tab and never sent in
// a URL; switching between the graphical and the serial console without being asked again; the
// graphical console's clipboard; the hint on a serial console that has printed nothing; and the
// console chrome at phone and desktop widths.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  ADMIN_PASSWORD,
  GUEST_BOOT,
  STATE_CHANGE,
  api,
  logIn,
  runInTerminal,
  snap,
  terminalText,
  useDistribox,
  vncDrawn,
  withPage,
} from './harness.mjs';

const distribox = useDistribox();
let admin = null; // an admin's API token
let vmId = null; // the running VM all tests share

const consoleReady = (page, kind, timeout) =>
  page.waitForSelector(`.console-view[data-kind=${kind}][data-phase=connected]`, { timeout });

/** A credential for the VM, issued through the API: its link. */
async function issuedLink(name) {
  const { issueVmCredential } = await api(
    'mutation($vmId: ID!, $name: String!) { issueVmCredential(vmId: $vmId, name: $name) { secret } }',
    { vmId, name },
    admin,
  );
  return { secret: issueVmCredential.secret, link: `${distribox.base}/connect#code=${issueVmCredential.secret}` };
}

/** Controls of the console's bars and panels that stick out of the window (none, at any width). */
function outOfWindow(page) {
  return page.evaluate(() => {
    const width = document.documentElement.clientWidth;
    const out = [];
    if (document.documentElement.scrollWidth > width) out.push(`the page scrolls sideways (${document.documentElement.scrollWidth} px)`);
    for (const element of document.querySelectorAll('.console-bar *, .console-toolbar *, .clipboard-panel *, .serial-hint, .login-main *')) {
      const box = element.getBoundingClientRect();
      if (box.width && box.height && (box.left < -0.5 || box.right > width + 0.5)) {
        out.push(`${element.tagName.toLowerCase()}.${element.className} "${element.textContent.trim().slice(0, 30)}" spans ${box.left}–${box.right}`);
      }
    }
    return out;
  });
}

async function fitsAt(page, width, name) {
  await page.setViewportSize({ width, height: width < 500 ? 844 : 900 });
  await sleep(300);
  assert.deepEqual(await outOfWindow(page), [], `${name} fits in ${width} px`);
  await snap(page, `${name}-${width}`);
}

/** Logs the admin in through the API and starts the VM the tests share, once. */
let started = null;
function runningVm() {
  started ??= (async () => {
    const { login } = await api('mutation($u: String!, $p: String!) { login(username: $u, password: $p) { token } }', {
      u: 'admin',
      p: ADMIN_PASSWORD,
    });
    admin = login.token;
    const { createVm } = await api(
      'mutation($input: CreateVmInput!) { createVm(input: $input) { id } }',
      { input: { name: 'console-vm', image: 'test-guest', vcpus: 1, memoryMib: 256, diskGib: 1, start: true } },
      admin,
    );
    vmId = createVm.id;
    distribox.createdVmIds.add(vmId);
    const deadline = Date.now() + STATE_CHANGE;
    let state = null;
    while ((state = (await api('query($id: ID!) { vm(id: $id) { state } }', { id: vmId }, admin)).vm.state) !== 'RUNNING') {
      assert.ok(Date.now() < deadline, `the VM runs within ${STATE_CHANGE / 1000} s (it is ${state})`);
      await sleep(500);
    }
  })();
  return started;
}

test('one link opens the console; the code stays out of URLs and is kept for the tab only', { timeout: 360_000 }, async () => {
  await runningVm();
  let link = null;
  let secret = null;
  await withPage(async (page) => {
    await logIn(page, 'admin', ADMIN_PASSWORD);
    await page.waitForSelector('h1:has-text("Virtual machines")');
    await page.goto(`${distribox.base}/vms/${vmId}`);
    await page.fill('input[name=credentialName]', 'shared by link');
    await page.click('button:has-text("Issue credential")');
    link = (await page.locator('[data-testid=share-link]').innerText()).trim();
    secret = (await page.locator('[data-testid=secret]').innerText()).trim();
    assert.match(secret, /^[0-9a-f]{64}$/, 'the bare code is shown as before');
    assert.equal(link, `${distribox.base}/connect#code=${secret}`, 'the link carries the code in its fragment');
    assert.match(await page.locator('.secret-once').innerText(), /part after #.*never send to the server/, 'the link says where the code is');
    await snap(page, 'consoles-01-share-link-1280');
    // At phone width the link wraps inside its box.
    await page.setViewportSize({ width: 390, height: 844 });
    const box = await page.locator('.secret-once').boundingBox();
    assert.ok(box.x >= 0 && box.x + box.width <= 390, `the link's box fits in 390 px (${box.x}–${box.x + box.width})`);
    await snap(page, 'consoles-01-share-link-390');
  });

  // A visitor in a fresh browser, without an account.
  await withPage(async (page) => {
    const sent = []; // what went over the network: request URLs and Referer headers, websocket URLs
    page.on('request', (request) => sent.push(request.url().split('#')[0], request.headers().referer ?? ''));
    page.on('websocket', (ws) => sent.push(ws.url()));
    // Notes, across reloads, if the form asking for a code ever showed.
    await page.addInitScript(() => {
      new MutationObserver(() => {
        if (document.getElementById('secret')) sessionStorage.setItem('test.askedForCode', location.href);
      }).observe(document, { childList: true, subtree: true });
    });
    const addressBar = () => page.evaluate(() => location.href);

    await page.goto(link);
    await consoleReady(page, 'vnc');
    assert.equal(await addressBar(), `${distribox.base}/connect`, 'the code left the address bar at once');
    await vncDrawn(page);
    await snap(page, 'consoles-02-link-graphical');

    await page.click('[data-testid=switch-kind]');
    await consoleReady(page, 'serial');
    await runInTerminal(page, 'echo $((6*7))', '42', GUEST_BOOT);
    assert.equal(await addressBar(), `${distribox.base}/connect?kind=serial`);

    // A reload keeps the console: the tab kept the code.
    await page.reload();
    await consoleReady(page, 'serial');
    await runInTerminal(page, 'echo again-$((6*7))', 'again-42', 30_000);

    // Graphical and back, without being asked for the code.
    await page.click('[data-testid=switch-kind]');
    await consoleReady(page, 'vnc');
    await vncDrawn(page);
    await page.click('[data-testid=switch-kind]');
    await consoleReady(page, 'serial');
    await runInTerminal(page, 'echo back-$((6*7))', 'back-42', 30_000);
    await fitsAt(page, 390, 'consoles-03-serial');
    // At phone width the keys fold behind one button; unfolded, they and the F-key menu fit too.
    assert.equal(await page.locator('.console-toolbar button:has-text("Esc")').isVisible(), false, 'the keys are folded');
    await page.click('.console-toolbar button:has-text("Keys")');
    await page.click('.console-toolbar button:has-text("F1–F12")');
    await fitsAt(page, 390, 'consoles-03-serial-keys');
    await page.click('.fn-menu button:has-text("F12")');
    await page.click('.console-toolbar button:has-text("Keys")');
    await fitsAt(page, 1400, 'consoles-03-serial');
    assert.equal(await page.locator('.console-toolbar button:has-text("Keys")').isVisible(), false, 'no folding on a wide screen');
    assert.equal(await page.evaluate(() => sessionStorage.getItem('test.askedForCode')), null, 'the code was never asked for');

    // A new tab without the link has no code.
    const other = await page.context().newPage();
    await other.goto(`${distribox.base}/connect`);
    await other.waitForSelector('#secret');
    await other.close();

    // Forgetting the code ends the console, and a reload no longer opens it.
    await page.click('button:has-text("Forget this code")');
    await page.waitForSelector('#secret');
    assert.equal(await page.locator('.console-view').count(), 0, 'the console closed');
    await page.reload();
    await page.waitForSelector('#secret');
    assert.equal(await page.evaluate(() => sessionStorage.getItem('distribox.accessCode')), null, 'nothing kept');

    assert.equal(await addressBar(), `${distribox.base}/connect?kind=serial`, 'the code never came back into the address bar');
    const leaks = sent.filter((url) => url.includes(secret));
    assert.deepEqual(leaks, [], 'no request, Referer or websocket URL carried the code');
    assert.ok(sent.some((url) => url.includes('/console/ws?ticket=')), 'the consoles were opened with tickets');
  });
});

test('a wrong or revoked code from a link is forgotten and the refusal is shown', { timeout: 120_000 }, async () => {
  await runningVm();
  const { secret, link } = await issuedLink('revoked soon');
  const { vm } = await api('query($id: ID!) { vm(id: $id) { credentials { id name } } }', { id: vmId }, admin);
  const credential = vm.credentials.find((c) => c.name === 'revoked soon');
  await api('mutation($vmId: ID!, $id: ID!) { revokeVmCredential(vmId: $vmId, credentialId: $id) }', { vmId, id: credential.id }, admin);
  await withPage(async (page) => {
    await page.goto(link);
    const refusal = page.locator('.form-error[role=alert]');
    await refusal.waitFor();
    assert.match(await refusal.innerText(), /access code was refused.*not valid/i);
    assert.equal(await page.evaluate(() => sessionStorage.getItem('distribox.accessCode')), null, 'the refused code is not kept');
    assert.ok(!page.url().includes(secret), 'nor left in the address bar');
    await fitsAt(page, 390, 'consoles-04-link-refused');
  });
});

test('a typed code opens the console; revoked while open, it is told and forgotten', { timeout: 120_000 }, async () => {
  await runningVm();
  const { secret } = await issuedLink('typed');
  await withPage(async (page) => {
    await page.goto(`${distribox.base}/connect`);
    await page.fill('#secret', secret);
    await page.check('input[name=kind] >> nth=1');
    await page.click('button:has-text("Open console")');
    await consoleReady(page, 'serial');
    await runInTerminal(page, 'echo typed-$((6*7))', 'typed-42', 30_000);
    assert.equal(await page.evaluate(() => sessionStorage.getItem('distribox.accessCode')), secret, 'kept for a reload');

    const { vm } = await api('query($id: ID!) { vm(id: $id) { credentials { id name } } }', { id: vmId }, admin);
    const credential = vm.credentials.find((c) => c.name === 'typed');
    await api('mutation($vmId: ID!, $id: ID!) { revokeVmCredential(vmId: $vmId, credentialId: $id) }', { vmId, id: credential.id }, admin);
    const message = page.locator('[data-testid=console-message]');
    await message.waitFor({ timeout: 10_000 });
    assert.match(await message.innerText(), /revoked/i, 'the visitor is told');
    await page.waitForSelector('.console-view[data-phase=ended]');
    assert.equal(await page.evaluate(() => sessionStorage.getItem('distribox.accessCode')), null, 'the revoked code is forgotten');
    await page.click('button:has-text("Another code")');
    await page.waitForSelector('#secret');
    assert.equal(await page.locator('.form-error').count(), 0, 'the form starts afresh');
  });
});

test("the graphical console's clipboard reaches the relay, and its scaling is remembered", { timeout: 180_000 }, async () => {
  await runningVm();
  const { link } = await issuedLink('clipboard');
  await withPage(async (page) => {
    // What noVNC sent to the relay, frame by frame.
    const frames = [];
    page.on('websocket', (ws) => {
      if (ws.url().includes('/console/ws')) ws.on('framesent', (frame) => frames.push(Buffer.from(frame.payload)));
    });
    await page.goto(link);
    await consoleReady(page, 'vnc');
    await vncDrawn(page);

    const text = `from-the-host-${Date.now()}`;
    await page.click('.console-toolbar button:has-text("Clipboard")');
    await page.fill('#clipboard-text', text);
    await page.click('button:has-text("Send to VM clipboard")');
    await page.waitForSelector('[data-testid=clipboard-sent]');
    await fitsAt(page, 390, 'consoles-05-clipboard');
    await fitsAt(page, 1400, 'consoles-05-clipboard');

    // RFB ClientCutText (message 6, three bytes of padding, then a length): the text itself in
    // Latin-1, or, where the server speaks the extended clipboard (a negative length, then
    // flags: an action in the top byte, formats below), a "notify" that text is on this side's
    // clipboard; QEMU asks for the text only when the guest has a clipboard agent, which the
    // test guest lacks. The capabilities noVNC sends on connecting (action 0x01) do not count.
    const sentCutText = () => {
      const all = Buffer.concat(frames);
      for (let at = all.indexOf(6); at >= 0 && at + 12 <= all.length; at = all.indexOf(6, at + 1)) {
        if (all.readUInt32BE(at) !== 0x06000000) continue;
        const length = all.readInt32BE(at + 4);
        if (length === text.length && all.subarray(at + 8, at + 8 + length).toString('latin1') === text) return 'the text';
        const flags = all.readUInt32BE(at + 8);
        const NOTIFY = 0x08;
        if (length === -4 && flags >>> 24 === NOTIFY && (flags & 1) === 1) return 'a notify for text';
      }
      return null;
    };
    const deadline = Date.now() + 5_000;
    while (!sentCutText() && Date.now() < deadline) await sleep(100);
    assert.ok(sentCutText(), 'the clipboard went out to the relay as RFB client cut text');

    // Scaling: actual size, remembered over a reload.
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.click('button:has-text("Close")');
    await page.selectOption('select[aria-label="Screen size"]', 'actual');
    await page.waitForSelector('.vnc-screen[data-scaling=actual]');
    await page.reload();
    await consoleReady(page, 'vnc');
    assert.equal(await page.locator('select[aria-label="Screen size"]').inputValue(), 'actual');
    assert.equal(await page.evaluate(() => localStorage.getItem('distribox.vncScaling')), 'actual');
    await vncDrawn(page);
  });
});

test('a serial console with nothing printed says to press Enter, until the guest answers', { timeout: 180_000 }, async () => {
  await runningVm();
  const { link } = await issuedLink('silent');
  await withPage(async (page) => {
    // A guest that printed nothing: what the server sends before the first key is held back
    // (it may replay what the guest printed earlier); everything after goes through.
    await page.routeWebSocket(/\/console\/ws/, (ws) => {
      const server = ws.connectToServer();
      let typed = false;
      ws.onMessage((message) => {
        typed = true;
        server.send(message);
      });
      server.onMessage((message) => {
        if (typed) ws.send(message);
      });
    });
    await page.goto(`${link.replace('/connect#', '/connect?kind=serial#')}`);
    await consoleReady(page, 'serial');
    const hint = page.locator('[data-testid=serial-hint]');
    await hint.waitFor({ timeout: 5_000 });
    assert.equal(await hint.innerText(), 'Nothing printed yet — press Enter to get a prompt');
    assert.equal((await terminalText(page)).trim(), '', 'the terminal is blank');
    await fitsAt(page, 390, 'consoles-06-serial-hint');
    await page.setViewportSize({ width: 1280, height: 800 });

    await page.focus('.xterm-helper-textarea');
    await page.keyboard.press('Enter');
    await hint.waitFor({ state: 'detached', timeout: 10_000 });
    await page.waitForFunction(() => (document.querySelector('.xterm-rows')?.innerText ?? '').trim() !== '', null, { timeout: 10_000 });
    await runInTerminal(page, 'echo hint-$((6*7))', 'hint-42', 30_000);
  });
});
