import type { Vm } from '../../src/live/vmList';

/** A stopped VM as the `vms` query returns it; `over` changes what a test is about. */
export function vmFixture(id: string, over: Partial<Vm> = {}): Vm {
  return {
    __typename: 'Vm',
    id,
    name: `vm-${id}`,
    state: 'STOPPED',
    image: 'debian',
    vcpus: 1,
    memoryMib: 512,
    diskGib: 4,
    failure: null,
    stateReason: null,
    pauseReason: null,
    createdAt: '2026-11-01T00:00:00Z',
    keyboardLayout: 'en-us',
    busy: false,
    ownerId: 'o',
    ownerName: 'admin',
    allowed: ['vms:start'],
    addresses: [],
    note: null,
    tags: [],
    ...over,
  } as Vm;
}
