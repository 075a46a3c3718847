// The API client on its own, in Node: what the page may show (`can`) and how server answers
// become errors the page can act on (`gql`).

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { ApiError, can, gql, onUnauthenticated, session, setToken } from '../api.js';

function answer(body, status = 200) {
  globalThis.fetch = async () => new Response(JSON.stringify(body), { status });
}

test('policies decide what the page offers; distribox:admin offers everything', () => {
  session.set({ username: 'alice', policies: ['vms:get'] });
  assert.equal(can('vms:get'), true);
  assert.equal(can('vms:start'), false);
  session.set({ username: 'admin', policies: ['distribox:admin'] });
  assert.equal(can('vms:start'), true);
  session.set(null);
  assert.equal(can('vms:get'), false);
});

test('errors carry the server code and message; a dead session reaches the handler', async () => {
  setToken('a-token');
  let told = 0;
  onUnauthenticated(() => told++);
  answer({ data: null, errors: [{ message: 'VM is not running', extensions: { code: 'CONFLICT' } }] });
  await assert.rejects(gql('{ x }'), (error) => {
    assert.ok(error instanceof ApiError);
    assert.equal(error.code, 'CONFLICT');
    assert.equal(error.message, 'VM is not running');
    return true;
  });
  assert.equal(told, 0);
  answer({ data: null, errors: [{ message: 'log in first', extensions: { code: 'UNAUTHENTICATED' } }] });
  await assert.rejects(gql('{ x }'), { code: 'UNAUTHENTICATED' });
  assert.equal(told, 1);
  answer({ data: { me: { id: '1' } } });
  assert.deepEqual(await gql('{ me { id } }'), { me: { id: '1' } });
  // Without a token there is no session to lose: the page is not told to log in again.
  setToken(null);
  answer({ data: null, errors: [{ message: 'log in first', extensions: { code: 'UNAUTHENTICATED' } }] });
  await assert.rejects(gql('{ x }'), { code: 'UNAUTHENTICATED' });
  assert.equal(told, 1);
});

test('a server that cannot be reached or answers garbage is a clear error', async () => {
  globalThis.fetch = async () => {
    throw new TypeError('network down');
  };
  await assert.rejects(gql('{ x }'), { code: 'NETWORK' });
  globalThis.fetch = async () => new Response('<html>', { status: 502 });
  await assert.rejects(gql('{ x }'), { code: 'INTERNAL' });
});
