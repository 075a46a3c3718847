// The web app's session is an HttpOnly cookie: every tab of the browser shares one login, page
// scripts never see the token, logging out in one tab ends it in all, GraphiQL uses it from its
// first request, and POST /graphql takes only JSON (so other sites can't post forms with it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN_PASSWORD, UI_STEP, api, graphql, logIn, sessionToken, snap, useDistribox, withPage } from './harness.mjs';

const distribox = useDistribox();

async function adminToken() {
  const { login } = await api('mutation($u: String!, $p: String!) { login(username: $u, password: $p) { token } }', {
    u: 'admin',
    p: ADMIN_PASSWORD,
  });
  return login.token;
}

/** Everything page scripts can read that could hold a secret: cookies and both storages. */
function scriptVisibleState(page) {
  return page.evaluate(() => ({
    cookie: document.cookie,
    session: Object.entries(sessionStorage),
    local: Object.entries(localStorage),
  }));
}

test('a second tab shares the login, page scripts never see the token, and logging out ends every tab', { timeout: 120_000 }, async () => {
  const { createVm } = await api(
    'mutation($input: CreateVmInput!) { createVm(input: $input) { id } }',
    { input: { name: 'session-vm', image: 'test-guest', vcpus: 1, memoryMib: 256, diskGib: 1, start: false } },
    await adminToken(),
  );
  distribox.createdVmIds.add(createVm.id);

  await withPage(async (page, { tolerating }) => {
    await logIn(page, 'admin', ADMIN_PASSWORD);
    await page.waitForSelector('h1:has-text("Virtual machines")');
    const token = await sessionToken(page);

    // A second tab opened at a VM's address lands on the VM, logged in.
    const second = await page.context().newPage();
    await second.goto(`${distribox.base}/vms/${createVm.id}`);
    await second.waitForSelector('h1:has-text("session-vm")');
    assert.doesNotMatch(second.url(), /\/login/);
    assert.equal(await second.locator('#password').count(), 0, 'no login form');

    // The token is nowhere a script (or an injected one) could read it.
    for (const tab of [page, second]) {
      const visible = await scriptVisibleState(tab);
      assert.ok(!JSON.stringify(visible).includes(token), `scripts can read the token: ${JSON.stringify(visible)}`);
      assert.ok(!(await tab.content()).includes(token), 'the page does not contain the token');
    }

    // Page scripts reach the API through the cookie, but only with a JSON body: a form-like
    // content type (what another site's page could post) is refused before anything runs.
    const asJson = await page.evaluate(async () => {
      const response = await fetch('/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: '{ me { username } }' }),
      });
      return response.json();
    });
    assert.equal(asJson.data?.me?.username, 'admin', JSON.stringify(asJson));
    const asText = await tolerating([/status of 415/], () =>
      page.evaluate(async () => {
        const response = await fetch('/graphql', {
          method: 'POST',
          headers: { 'content-type': 'text/plain' },
          body: JSON.stringify({ query: '{ me { username } }' }),
        });
        return response.status;
      }),
    );
    assert.equal(asText, 415);

    // Log out in the first tab: the second follows to the login page without being touched.
    await page.click('button[aria-haspopup=menu]');
    await page.click('button[role=menuitem]:has-text("Log out")');
    await page.waitForURL(/\/login/);
    await second.waitForURL(/\/login/, { timeout: UI_STEP });
    await second.locator('#password').waitFor();
    await snap(second, '30-session-ended-in-other-tab');

    // The server ended the session: the token is worthless now, and the cookie is gone.
    const after = await graphql('{ me { username } }', {}, token);
    assert.equal(after.errors?.[0]?.extensions?.code, 'UNAUTHENTICATED', JSON.stringify(after));
    const cookies = await page.context().cookies(distribox.base);
    assert.equal(cookies.find((c) => c.name === 'distribox_session'), undefined, 'the cookie is cleared');
    assert.deepEqual((await scriptVisibleState(second)).local, [], 'no account left in localStorage');
  });
});

test('an account that may not read itself stays logged in across tabs', { timeout: 60_000 }, async () => {
  // Without auth:me:get, `me` answers FORBIDDEN: the session is good, and the account login
  // returned (kept in localStorage) tells a new tab who it is.
  await api(
    'mutation($input: CreateAccountInput!) { createAccount(input: $input) { account { id } } }',
    { input: { username: 'nome', password: 'no-me-password-1', policies: ['vms:get'] } },
    await adminToken(),
  );
  await withPage(async (page) => {
    await logIn(page, 'nome', 'no-me-password-1');
    await page.waitForSelector('h1:has-text("Virtual machines")');
    const second = await page.context().newPage();
    await second.goto(`${distribox.base}/`);
    await second.waitForSelector('h1:has-text("Virtual machines")');
    assert.doesNotMatch(second.url(), /\/login/);
    await second.reload();
    await second.waitForSelector('h1:has-text("Virtual machines")');
    assert.doesNotMatch(second.url(), /\/login/, 'a reload keeps the login too');
  });
});

test('GraphiQL loads the schema through the cookie and never shows the token', { timeout: 60_000 }, async () => {
  await withPage(async (page) => {
    await logIn(page, 'admin', ADMIN_PASSWORD);
    await page.waitForSelector('h1:has-text("Virtual machines")');
    const token = await sessionToken(page);
    await page.goto(`${distribox.base}/graphiql`);
    await page.waitForSelector('.graphiql-container');
    // The documentation explorer lists the schema's root types only after introspection worked.
    await page.click('button[aria-label="Show Documentation Explorer"]');
    await page.locator('.graphiql-doc-explorer-content:has-text("QueryRoot")').waitFor();
    assert.doesNotMatch(await page.locator('body').innerText(), /introspection/i, 'no introspection error');
    await page.click('.graphiql-execute-button');
    await page.waitForFunction(() => document.querySelector('.result-window')?.textContent.includes('distribox:admin'));
    await snap(page, '31-graphiql-with-cookie');
    assert.ok(!(await page.content()).includes(token), 'the token is not in the page (nor its headers pane)');
    assert.ok(!JSON.stringify(await scriptVisibleState(page)).includes(token), 'nor anywhere scripts can read');
  });
});
