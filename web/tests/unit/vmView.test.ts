import { describe, expect, it } from 'vitest';
import { vmFixture } from './fixtures';
import type { Vm } from '../../src/live/vmList';
import { vmLabel } from '../../src/live/vmLabel';
import { DEFAULT_VIEW, filterChoices, matchesSearch, nextSort, paramsFromView, viewFromParams, visibleVms, type LiveUsage, type VmView } from '../../src/live/vmView';

const at = (i: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString();

const vms: Vm[] = [
  vmFixture('1b4e28ba-0000', { name: 'web', ownerName: 'alice', image: 'debian', vcpus: 2, memoryMib: 2048, state: 'RUNNING', tags: ['lab-2'], createdAt: at(1) }),
  vmFixture('9f0c11aa-0000', { name: 'db', ownerName: 'bob', image: 'ubuntu', vcpus: 4, memoryMib: 1024, note: 'Postgres for the Tuesday class', createdAt: at(2) }),
  vmFixture('5a5a5a5a-0000', { name: 'web', ownerName: 'bob', image: 'debian', vcpus: 1, memoryMib: 512, state: 'RUNNING', createdAt: at(3) }),
  vmFixture('77777777-0000', { name: 'Build10', ownerName: null, image: 'debian', vcpus: 1, memoryMib: 512, createdAt: at(4) }),
  vmFixture('88888888-0000', { name: 'build9', ownerName: 'alice', image: 'alpine', vcpus: 1, memoryMib: 512, createdAt: at(5) }),
];

const sample = (cpuPercent: number, memoryUsedMib: number): LiveUsage => ({ cpuPercent, memoryUsedMib, sampledAt: at(9) });
const usage = new Map([
  ['1b4e28ba-0000', sample(12.5, 900)],
  ['5a5a5a5a-0000', sample(80, 300)],
]);

const names = (list: Vm[]) => list.map((vm) => `${vm.name}/${vm.ownerName}`);
const view = (over: Partial<VmView>): VmView => ({ ...DEFAULT_VIEW, ...over });

describe('the VM table view', () => {
  it('reads the address, and writes only what differs from the default', () => {
    const read = viewFromParams(new URLSearchParams('q=web&state=RUNNING&owner=bob&image=debian&sort=cpu&order=desc'));
    expect(read).toEqual({ search: 'web', state: 'RUNNING', owner: 'bob', image: 'debian', sort: 'cpu', descending: true });
    expect(viewFromParams(paramsFromView(read))).toEqual(read);
    expect(paramsFromView(DEFAULT_VIEW).toString()).toBe('');
    // A hand-edited address with nonsense falls back to the defaults.
    expect(viewFromParams(new URLSearchParams('sort=__proto__&state=ASLEEP'))).toEqual(DEFAULT_VIEW);
  });

  it('finds VMs by any word of name, owner, image, tag or note, or by the start of the id', () => {
    expect(names(vms.filter((vm) => matchesSearch(vm, 'LAB-2')))).toEqual(['web/alice']);
    expect(names(vms.filter((vm) => matchesSearch(vm, 'tuesday postgres')))).toEqual(['db/bob']);
    expect(names(vms.filter((vm) => matchesSearch(vm, '5a5a')))).toEqual(['web/bob']);
    expect(names(vms.filter((vm) => matchesSearch(vm, 'web bob')))).toEqual(['web/bob']);
    // Inside an id does not count: only its start.
    expect(vms.filter((vm) => matchesSearch(vm, '0000'))).toEqual([]);
  });

  it('filters by state, owner and image together', () => {
    expect(names(visibleVms(vms, view({ state: 'RUNNING', image: 'debian' }), usage))).toEqual(['web/alice', 'web/bob']);
    expect(names(visibleVms(vms, view({ owner: 'bob', search: 'db' }), usage))).toEqual(['db/bob']);
  });

  it('sorts names naturally and puts VMs without a value last in either direction', () => {
    expect(names(visibleVms(vms, view({ sort: 'name' }), usage))).toEqual(['build9/alice', 'Build10/null', 'db/bob', 'web/alice', 'web/bob']);
    expect(names(visibleVms(vms, view({ sort: 'cpu', descending: true }), usage)).slice(0, 2)).toEqual(['web/bob', 'web/alice']);
    expect(names(visibleVms(vms, view({ sort: 'cpu' }), usage)).slice(0, 2)).toEqual(['web/alice', 'web/bob']);
    expect(names(visibleVms(vms, view({ sort: 'memoryUse', descending: true }), usage))[0]).toBe('web/alice');
    expect(names(visibleVms(vms, view({ sort: 'owner' }), usage)).at(-1)).toBe('Build10/null');
    expect(names(visibleVms(vms, view({ sort: 'owner', descending: true }), usage)).at(-1)).toBe('Build10/null');
    expect(names(visibleVms(vms, view({ descending: true }), usage))[0]).toBe('build9/alice');
  });

  it('turns a column around on a second click; numbers start largest first', () => {
    const byMemory = nextSort(DEFAULT_VIEW, 'memory');
    expect(byMemory).toMatchObject({ sort: 'memory', descending: true });
    expect(nextSort(byMemory, 'memory')).toMatchObject({ sort: 'memory', descending: false });
    expect(nextSort(byMemory, 'name')).toMatchObject({ sort: 'name', descending: false });
  });

  it('offers the values the VMs have, and keeps the chosen one', () => {
    const choices = filterChoices(vms, view({ owner: 'carol' }));
    expect(choices.owners).toEqual(['alice', 'bob', 'carol']);
    expect(choices.images).toEqual(['alpine', 'debian', 'ubuntu']);
    expect(choices.states).toEqual(['STOPPED', 'RUNNING']);
  });

  it('tells same-named VMs apart by owner and short id', () => {
    expect(vmLabel(vms[0])).toBe('web (alice · 1b4e28ba)');
    expect(vmLabel(vms[2])).toBe('web (bob · 5a5a5a5a)');
    expect(vmLabel(vms[3])).toBe('Build10 (deleted account · 77777777)');
  });
});
