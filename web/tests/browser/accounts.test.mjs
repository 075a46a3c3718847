// Managing accounts: a role preset fills in a new account's policies, a disabled account can be
// enabled again, several policies go onto one VM at once, and the page fits a phone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN_PASSWORD, api, graphql, logIn, sessionToken, snap, useDistribox, withPage } from './harness.mjs';

const distribox = useDistribox();
const OPERATOR_PASSWORD = 'operator-password-1';

const LOGIN = 'mutation($u: String!, $p: String!) { login(username: $u, password: $p) { token } }';

async function accountNamed(username, token) {
  const { accounts } = await api('{ accounts { id username disabled policies vmGrants { vmId granted } } }', {}, token);
  return accounts.find((account) => account.username === username);
}

test('an account made from the Operator preset holds its policies, and can be disabled and enabled', { timeout: 90_000 }, async () => {
  await withPage(async (page) => {
    await logIn(page, 'admin', ADMIN_PASSWORD);
    await page.click('header nav a:has-text("Accounts")');
    await page.fill('input[name=newUsername]', 'operator1');
    await page.fill('input[name=newPassword]', OPERATOR_PASSWORD);
    await page.selectOption('select[name=role]', { label: 'Operator' });
    // The preset says what it is for and ticks its policies, each with its description.
    await page.locator('.field:has(select[name=role]) .help:has-text("Runs every VM")').waitFor();
    const form = page.locator('section[aria-labelledby=new-account-title]');
    assert.equal(await form.locator('.policy-option:has(input[value="vms:start"]) input').isChecked(), true);
    assert.match(await form.locator('.policy-option:has(input[value="vms:start"])').innerText(), /Start a VM/);
    assert.equal(await form.locator('.policy-option:has(input[value="users:create"]) input').isChecked(), false);
    await snap(page, '40-accounts-operator-preset');
    await page.click('button:has-text("Create account")');
    await page.locator('tbody[data-account=operator1]').waitFor();

    const admin = await sessionToken(page);
    const { rolePresets } = await api('{ rolePresets { name policies } }', {}, admin);
    const operator = rolePresets.find((preset) => preset.name === 'operator');
    const created = await accountNamed('operator1', admin);
    assert.deepEqual([...created.policies].sort(), [...operator.policies].sort(), 'the account holds exactly the preset');

    // Disable (asked first), and the account can't log in; enable, and it can again.
    const row = page.locator('tbody[data-account=operator1]');
    await row.locator('button:has-text("Manage")').click();
    await row.locator('button:has-text("Disable")').click();
    await page.click('dialog[open] button:has-text("Disable")');
    await row.locator('.badge:has-text("disabled")').waitFor();
    const refused = await graphql(LOGIN, { u: 'operator1', p: OPERATOR_PASSWORD });
    assert.ok(refused.errors?.length, 'a disabled account cannot log in');
    await snap(page, '41-accounts-disabled');
    await row.locator('button:has-text("Enable")').click();
    await row.locator('.badge:has-text("disabled")').waitFor({ state: 'detached' });
    await row.locator('button:has-text("Disable")').waitFor();
    const { login } = await api(LOGIN, { u: 'operator1', p: OPERATOR_PASSWORD });
    assert.ok(login.token, 'enabled again, it logs in');
  });
});

test('two policies are granted on one VM at once, and the editor fits 390 px', { timeout: 90_000 }, async () => {
  const admin = (await api(LOGIN, { u: 'admin', p: ADMIN_PASSWORD })).login.token;
  await api(
    'mutation($input: CreateAccountInput!) { createAccount(input: $input) { account { id } } }',
    { input: { username: 'guest1', password: 'guest-password-1', policies: ['auth:me:get', 'auth:changePassword'] } },
    admin,
  );
  const { createVm } = await api(
    'mutation($input: CreateVmInput!) { createVm(input: $input) { id } }',
    { input: { name: 'grant-vm', image: 'test-guest', vcpus: 1, memoryMib: 256, diskGib: 1, start: false } },
    admin,
  );
  distribox.createdVmIds.add(createVm.id);

  await withPage(async (page) => {
    await page.setViewportSize({ width: 390, height: 800 });
    await logIn(page, 'admin', ADMIN_PASSWORD);
    await page.waitForSelector('h1:has-text("Virtual machines")');
    await page.goto(`${distribox.base}/accounts`);
    const row = page.locator('tbody[data-account=guest1]');
    await row.locator('button:has-text("Manage")').click();
    const grantForm = row.locator('.vm-grant-form');
    // VMs are told apart by owner and the start of their id.
    await grantForm.locator('select[name=grantVm] option', { hasText: `grant-vm (admin · ${createVm.id.slice(0, 8)})` }).waitFor({ state: 'attached' });
    await grantForm.locator('select[name=grantVm]').selectOption(createVm.id);
    await grantForm.locator('input[value="vms:start"]').check();
    await grantForm.locator('input[value="vms:connect"]').check();
    await grantForm.locator('button:has-text("Grant 2 policies")').click();
    await row.locator('.chip:has-text("vms:start")').waitFor();
    await row.locator('.chip:has-text("vms:connect")').waitFor();

    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `the page scrolls sideways by ${overflow} px at 390 px`);
    await snap(page, '42-accounts-vm-grants-390');
  });
  const guest = await accountNamed('guest1', admin);
  const grant = guest.vmGrants.find((g) => g.vmId === createVm.id);
  assert.deepEqual([...(grant?.granted ?? [])].sort(), ['vms:connect', 'vms:start'], JSON.stringify(guest.vmGrants));
});
