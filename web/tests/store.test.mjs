// The VM store on its own, in Node: a deletion is final even when an older answer arrives later.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { session } from '../api.js';
import { store } from '../store.js';

/** A `fetch` whose answers the test hands out one at a time. */
function controlledFetch() {
  const pending = [];
  globalThis.fetch = () =>
    new Promise((resolve) => {
      pending.push((data) => resolve(new Response(JSON.stringify({ data }))));
    });
  return pending;
}

const vm = (id, state) => ({
  id,
  name: id,
  state,
  image: 'test-guest',
  vcpus: 1,
  memoryMib: 256,
  diskGib: 1,
  failure: null,
  createdAt: '2026-11-28T12:00:00Z',
});

test('a refresh answered after the VM was deleted does not bring it back', async () => {
  session.set({ username: 'admin', policies: ['distribox:admin'] });
  const answers = controlledFetch();
  store.put(vm('a', 'STOPPING'));

  const refresh = store.refresh('a'); // asked while the VM still existed
  store.applyEvent({ vmId: 'a', state: 'DELETED', event: 'VmDeleted' });
  assert.equal(store.get('a'), undefined);

  answers.shift()({ vm: vm('a', 'STOPPING') }); // the stale answer
  await refresh;
  assert.equal(store.get('a'), undefined, 'the deleted VM came back');
  assert.equal(store.isDeleting('a'), false);

  // Other VMs are unaffected, and logging out forgets everything.
  store.put(vm('b', 'RUNNING'));
  assert.equal(store.get('b').state, 'RUNNING');
  store.clear();
  store.put(vm('a', 'RUNNING'));
  assert.equal(store.get('a').state, 'RUNNING');
});
