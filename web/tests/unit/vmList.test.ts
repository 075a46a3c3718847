import { describe, expect, it } from 'vitest';
import { vmFixture } from './fixtures';
import { applyEvent, loaded, reconcile, remove, rows, upsert, type Vm } from '../../src/live/vmList';

function vm(id: string, over: Partial<Vm> = {}): Vm {
  return vmFixture(id, { createdAt: `2026-11-0${id}T00:00:00Z`, ...over });
}

describe('the live VM list', () => {
  it('keeps creation order and leaves deleted VMs out of a load', () => {
    const list = loaded([vm('3'), vm('1'), vm('2', { state: 'DELETED' })]);
    expect(rows(list).map((v) => v.id)).toEqual(['1', '3']);
  });

  it('changes the state at once and asks for the rest', () => {
    const list = loaded([vm('1')]);
    const { list: next, refetch } = applyEvent(list, { vmId: '1', state: 'RUNNING', event: 'VmStarted', at: '' });
    expect(next.byId.get('1')?.state).toBe('RUNNING');
    expect(refetch).toBe('1');
    expect(list.byId.get('1')?.state).toBe('STOPPED'); // the old value is untouched
  });

  it('drops the old state\'s reason at once, and takes a new reason even when the state stays', () => {
    const list = loaded([vm('1', { state: 'PAUSED', stateReason: 'paused outside Distribox' })]);
    const resumed = applyEvent(list, { vmId: '1', state: 'RUNNING', event: 'VmResumed', at: '' }).list;
    expect(resumed.byId.get('1')?.stateReason).toBeNull();
    const faulted = upsert(list, vm('1', { state: 'PAUSED', stateReason: 'paused by libvirt after a disk I/O error' }));
    expect(faulted.byId.get('1')?.stateReason).toBe('paused by libvirt after a disk I/O error');
  });

  it('asks for a VM it has not seen, and forgets a deleted one for good', () => {
    const list = loaded([vm('1')]);
    expect(applyEvent(list, { vmId: '9', state: 'PENDING', event: 'VmCreated', at: '' }).refetch).toBe('9');
    const gone = applyEvent(list, { vmId: '1', state: 'DELETED', event: 'VmDeleted', at: '' });
    expect(rows(gone.list)).toEqual([]);
    expect(gone.refetch).toBeNull();
    // A fetch that answers after the deletion does not bring it back.
    expect(rows(upsert(gone.list, vm('1', { state: 'RUNNING' })))).toEqual([]);
    expect(applyEvent(gone.list, { vmId: '1', state: 'STOPPED', event: 'late', at: '' }).refetch).toBeNull();
  });

  it('keeps unchanged VMs identical, so their rows do not re-render', () => {
    const first = loaded([vm('1'), vm('2')]);
    const second = loaded([vm('1'), vm('2', { name: 'renamed' })], first);
    expect(second.byId.get('1')).toBe(first.byId.get('1'));
    expect(second.byId.get('2')).not.toBe(first.byId.get('2'));
    expect(upsert(second, vm('1'))).toBe(second);
  });

  it('places a new VM by creation time', () => {
    const list = upsert(loaded([vm('1'), vm('3')]), vm('2'));
    expect(list.order).toEqual(['1', '2', '3']);
    expect(remove(list, '2').order).toEqual(['1', '3']);
  });

  it('an event for one of 1,000 VMs leaves the other 999 objects as they were', () => {
    const list = loaded(Array.from({ length: 1000 }, (_, i) => vm(String(i), { createdAt: new Date(i * 1000).toISOString() })));
    const next = applyEvent(list, { vmId: '500', state: 'RUNNING', event: 'VmStarted', at: '' }).list;
    const changed = [...next.byId.values()].filter((v) => v !== list.byId.get(v.id));
    expect(changed.map((v) => v.id)).toEqual(['500']);
    expect(next.order).toBe(list.order);
  });

  it('a slow full load does not undo what arrived while it was loading', () => {
    const before = loaded([vm('1'), vm('2')]);
    // Meanwhile: 1 started, 2 was deleted, 3 was created.
    let during = applyEvent(before, { vmId: '1', state: 'RUNNING', event: 'VmStarted', at: '' }).list;
    during = remove(during, '2');
    during = upsert(during, vm('3'));
    // The load's snapshot was taken before all that.
    const snapshot = loaded([vm('1'), vm('2')], during);
    const result = reconcile(snapshot, during, new Set(['1', '2', '3']));
    expect(rows(result).map((v) => [v.id, v.state])).toEqual([
      ['1', 'RUNNING'],
      ['3', 'STOPPED'],
    ]);
    // VMs nobody touched take the snapshot's word.
    const renamed = reconcile(loaded([vm('1', { name: 'new' })], before), before, new Set());
    expect(renamed.byId.get('1')?.name).toBe('new');
  });
});
