import { describe, expect, it } from 'vitest';
import type { VmState } from '../../src/gql/graphql';
import { SNAPSHOT_BUSY, snapshotAction } from '../../src/live/vmActions';

const ALL = ['vms:snapshots:create', 'vms:snapshots:revert', 'vms:snapshots:delete'];
const vm = (state: VmState, over: { allowed?: string[]; busy?: boolean } = {}) => ({ state, allowed: ALL, busy: false, ...over });

describe('snapshot actions', () => {
  it('reverts only a stopped VM, saying what would allow it otherwise', () => {
    expect(snapshotAction(vm('STOPPED'), 'revert').blocked).toBeNull();
    expect(snapshotAction(vm('FAILED'), 'revert').blocked).toBeNull();
    expect(snapshotAction(vm('CRASHED'), 'revert').blocked).toBeNull();
    for (const state of ['RUNNING', 'PAUSED', 'STARTING', 'STOPPING'] as const) {
      expect(snapshotAction(vm(state), 'revert').blocked).toBe('Stop the VM to revert it to a snapshot');
    }
  });

  it('takes a snapshot of a running or stopped VM', () => {
    expect(snapshotAction(vm('RUNNING'), 'take').blocked).toBeNull();
    expect(snapshotAction(vm('STOPPED'), 'take').blocked).toBeNull();
    expect(snapshotAction(vm('CRASHED'), 'take').blocked).toBeNull();
    expect(snapshotAction(vm('PAUSED'), 'take').blocked).toBe('Resume the VM to take a snapshot');
    expect(snapshotAction(vm('STARTING'), 'take').blocked).toMatch(/running or stopped/);
  });

  it('deletes in any state, but nothing while snapshot work is under way', () => {
    expect(snapshotAction(vm('RUNNING'), 'delete').blocked).toBeNull();
    for (const action of ['take', 'revert', 'delete'] as const) {
      expect(snapshotAction(vm('STOPPED', { busy: true }), action).blocked).toBe(SNAPSHOT_BUSY);
    }
  });

  it('names the policy each needs, and whether it is held', () => {
    expect(snapshotAction(vm('STOPPED', { allowed: ['vms:snapshots:delete'] }), 'revert')).toEqual({
      policy: 'vms:snapshots:revert',
      allowed: false,
      blocked: null,
    });
    expect(snapshotAction(vm('STOPPED', { allowed: ['vms:snapshots:delete'] }), 'delete').allowed).toBe(true);
  });
});
