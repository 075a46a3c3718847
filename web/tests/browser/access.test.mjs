// What an account sees is what it may do: features it lacks a policy for are hidden or greyed
// with the policy named, and calling the API directly is refused all the same. Also logging in
// wrong, managing accounts and changing a password.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN_PASSWORD, STATE_CHANGE, api, graphql, logIn, sessionToken, snap, useDistribox, withPage } from './harness.mjs';
import fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

const distribox = useDistribox();
const VIEWER_PASSWORD = 'viewer-password-1';

async function adminToken() {
  const { login } = await api('mutation($u: String!, $p: String!) { login(username: $u, password: $p) { token } }', {
    u: 'admin',
    p: ADMIN_PASSWORD,
  });
  return login.token;
}

test('a wrong password is refused and nothing is stored', { timeout: 60_000 }, async () => {
  await withPage(async (page) => {
    await logIn(page, 'admin', `not-${ADMIN_PASSWORD}`);
    const error = page.locator('.form-error[role=alert]');
    await error.waitFor();
    assert.match(await error.innerText(), /\S/, 'the error says something');
    assert.match(page.url(), /\/login/, 'still on the login page');
    const stored = await page.evaluate(() => ({ session: Object.keys(sessionStorage), local: Object.keys(localStorage) }));
    assert.deepEqual(stored, { session: [], local: [] }, 'nothing is stored');
    await snap(page, '00-login-refused');
  });
});

test('GraphiQL is served from the binary and runs a query', { timeout: 60_000 }, async () => {
  await withPage(async (page) => {
    await logIn(page, 'admin', ADMIN_PASSWORD);
    await page.waitForSelector('h1:has-text("Virtual machines")');
    await page.click('header nav a:has-text("API")');
    await page.waitForURL(/\/graphiql$/);
    await page.waitForSelector('.graphiql-container');
    await page.click('.graphiql-execute-button');
    await page.waitForFunction(() => document.querySelector('.result-window')?.textContent.includes('distribox:admin'));
    await snap(page, '14-graphiql');
  });
});

test('a wrong access code is told on the form and leaves the tab logged in', { timeout: 60_000 }, async () => {
  await withPage(async (page) => {
    await logIn(page, 'admin', ADMIN_PASSWORD);
    await page.waitForSelector('h1:has-text("Virtual machines")');
    await page.goto(`${distribox.base}/connect`);
    await page.fill('#secret', 'not-a-real-access-code');
    await page.click('button:has-text("Open console")');
    await page.locator('.form-error[role=alert]').waitFor();
    await snap(page, '15-connect-refused');
    await page.goto(`${distribox.base}/`);
    await page.waitForSelector('h1:has-text("Virtual machines")');
    assert.ok(await sessionToken(page), 'still logged in');
  });
});

test('an account without a policy does not see the feature, and a direct call is refused', { timeout: 180_000 }, async () => {
  const admin = await adminToken();
  const { createAccount } = await api(
    `mutation($input: CreateAccountInput!) { createAccount(input: $input) { account { id } } }`,
    { input: { username: 'viewer', password: VIEWER_PASSWORD, policies: ['auth:me:get', 'auth:changePassword', 'vms:get'] } },
    admin,
  );
  const { createVm } = await api(
    `mutation($input: CreateVmInput!) { createVm(input: $input) { id } }`,
    { input: { name: 'shared-vm', image: 'test-guest', vcpus: 1, memoryMib: 256, diskGib: 1, start: false } },
    admin,
  );
  distribox.createdVmIds.add(createVm.id);

  await withPage(async (page) => {
    await logIn(page, 'viewer', VIEWER_PASSWORD);
    const row = page.locator(`tr[data-vm-id="${createVm.id}"]`);
    await row.locator('.badge[data-state=STOPPED]').waitFor({ timeout: STATE_CHANGE });

    // Hidden: screens and panels it may not use.
    assert.deepEqual(await page.locator('header nav a').allInnerTexts(), ['Overview', 'API'], 'only the screens it may use');
    assert.equal(await page.locator('#host-title').count(), 0, 'no host panel without host:get');
    // Greyed, with the missing policy named.
    const newVm = page.locator('button:has-text("New VM")');
    assert.equal(await newVm.isDisabled(), true);
    assert.equal(await newVm.getAttribute('data-missing-policy'), 'vms:create');
    const start = row.locator('button:has-text("Start")');
    assert.equal(await start.isDisabled(), true);
    assert.equal(await start.getAttribute('title'), 'Needs the vms:start policy');
    await snap(page, '10-limited-account');

    // The same calls made directly are refused, naming the policy.
    const token = await sessionToken(page);
    const refusals = [
      ['mutation($id: ID!) { startVm(id: $id) { id } }', { id: createVm.id }, 'vms:start'],
      [
        'mutation($input: CreateVmInput!) { createVm(input: $input) { id } }',
        { input: { name: 'nope', image: 'test-guest', vcpus: 1, memoryMib: 256, diskGib: 1 } },
        'vms:create',
      ],
      ['{ accounts { id } }', {}, 'users:get'],
      ['{ host { cpus } }', {}, 'host:get'],
    ];
    for (const [query, variables, policy] of refusals) {
      const body = await graphql(query, variables, token);
      assert.equal(body.errors?.[0]?.extensions?.code, 'FORBIDDEN', `${query} is refused`);
      assert.equal(body.errors[0].extensions.policy, policy, `${query} names ${policy}`);
    }

    // The account may change its own password.
    await page.click('button[aria-haspopup=menu]');
    await page.click('button[role=menuitem]:has-text("Change password")');
    await page.fill('dialog[open] input[autocomplete=current-password]', VIEWER_PASSWORD);
    await page.fill('dialog[open] input[autocomplete=new-password] >> nth=0', 'short');
    await page.fill('dialog[open] input[autocomplete=new-password] >> nth=1', 'short');
    await page.click('dialog[open] button[type=submit]');
    await page.locator('dialog[open] [aria-invalid=true] ~ .field-error').waitFor();
    await snap(page, '11-change-password-refused');
    await page.fill('dialog[open] input[autocomplete=new-password] >> nth=0', 'viewer-password-2');
    await page.fill('dialog[open] input[autocomplete=new-password] >> nth=1', 'viewer-password-2');
    await page.click('dialog[open] button[type=submit]');
    // Every session of the account ended, this one too: back to the login, told why.
    await page.waitForURL(/\/login/);
    await page.locator('[role=status]:has-text("Password changed")').waitFor();
    await snap(page, '11b-password-changed');
    await page.fill('#username', 'viewer');
    await page.fill('#password', 'viewer-password-2');
    await page.click('button[type=submit]');
    await page.waitForSelector('h1:has-text("Virtual machines")');

    // A screen it may not use, opened by its address, says what is missing.
    await page.goto(`${distribox.base}/accounts`);
    await page.locator('.form-error:has-text("users:get")').waitFor();
  });

  // The administrator creates an account (its generated password shown once) and grants the
  // viewer one policy on one VM.
  await withPage(async (page) => {
    await logIn(page, 'admin', ADMIN_PASSWORD);
    await page.click('header nav a:has-text("Accounts")');
    await page.fill('input[name=newUsername]', 'student');
    await page.click('button:has-text("Create account")');
    const secret = (await page.locator('[data-testid=secret]').innerText()).trim();
    assert.ok(secret.length >= 10, 'the generated password is shown');
    await page.locator('tbody[data-account=student]').waitFor();
    await snap(page, '12-accounts-created');

    const viewer = page.locator('tbody[data-account=viewer]');
    await viewer.locator('button:has-text("Manage")').click();
    await viewer.locator('select[name=grantVm]').selectOption(createVm.id);
    await viewer.locator('.vm-grant-form input[value="vms:start"]').check();
    await viewer.locator('.vm-grant-form button:has-text("Grant")').click();
    await viewer.locator('.chip:has-text("vms:start")').waitFor();
    await snap(page, '13-accounts-grant');
  });
  const { login } = await api('mutation { login(username: "viewer", password: "viewer-password-2") { token } }');
  for (let tries = 0; ; tries++) {
    const { vm } = await api('query($id: ID!) { vm(id: $id) { allowed } }', { id: createVm.id }, login.token);
    if (vm?.allowed.includes('vms:start')) break;
    assert.ok(tries < 20, `the grant reaches the viewer: ${JSON.stringify(vm)}`);
    await sleep(250);
  }
});

test('the audit log shows refusals, follows new entries live and exports what it shows', { timeout: 90_000 }, async () => {
  await withPage(async (page) => {
    await logIn(page, 'admin', ADMIN_PASSWORD);
    await page.click('header nav a:has-text("Audit log")');
    await page.waitForSelector('tr[data-action]');
    // The viewer's refused calls (the test before) are there, and the refusal filter keeps only them.
    await page.selectOption('select[name=outcome]', 'refused');
    await page.click('form.audit-filters button[type=submit]');
    await page.waitForSelector('tr[data-action=AccessDenied]');
    const outcomes = await page.locator('tbody tr').evaluateAll((rows) => rows.map((r) => r.dataset.outcome));
    assert.ok(outcomes.length > 0 && outcomes.every((o) => o === 'refused'), JSON.stringify(outcomes));
    await snap(page, '16-audit-refused');

    // Live: a refusal made now appears at the top without reloading.
    await graphql('{ accounts { id } }', {}, (await api('mutation { login(username: "viewer", password: "viewer-password-2") { token } }')).login.token);
    await page.waitForFunction(() => document.querySelectorAll('tbody tr[data-action=AccessDenied]').length >= 2);

    // Export: the same filter, as CSV.
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('button:has-text("Export CSV")')]);
    const csv = fs.readFileSync(await download.path(), 'utf8');
    const [header, ...rows] = csv.trim().split('\n');
    assert.match(header, /^chain_index,position,at,actor/);
    assert.ok(rows.length >= 2 && rows.every((row) => row.includes(',refused,')), csv);
  });
});
