import { describe, expect, it } from 'vitest';
import { vmFixture } from './fixtures';
import { bulkPlan, runBulk } from '../../src/live/bulkVmActions';
import type { ActionOutcome } from '../../src/live/useVmAction';

const stopped = vmFixture('a', { name: 'a', allowed: ['vms:start', 'vms:delete'] });
const running = vmFixture('b', { name: 'b', state: 'RUNNING', allowed: ['vms:start', 'vms:stop'] });
const foreign = vmFixture('c', { name: 'c', allowed: [] });
const busy = vmFixture('d', { name: 'd', busy: true, allowed: ['vms:start'] });
const other = vmFixture('e', { name: 'e', allowed: ['vms:start'] });

describe('bulk VM actions', () => {
  it('asks only VMs whose state and policies allow the action, saying why for the others', () => {
    const plan = bulkPlan('start', [stopped, running, foreign, busy, other]);
    expect(plan.ready.map((vm) => vm.id)).toEqual(['a', 'e']);
    expect(plan.skipped.map(({ vm, reason }) => [vm.id, reason])).toEqual([
      ['b', 'it is running'],
      ['c', 'needs the vms:start policy'],
      ['d', 'snapshot work is under way on it'],
    ]);
    expect(bulkPlan('forceStop', [stopped, running]).ready.map((vm) => vm.id)).toEqual(['b']);
  });

  it('reports each refusal with its VM, in the order chosen, and counts the rest', async () => {
    const plan = bulkPlan('start', [stopped, other, vmFixture('f', { allowed: ['vms:start'] })]);
    const sent: string[] = [];
    const applied: string[] = [];
    const send = async (action: string, id: string): Promise<ActionOutcome> => {
      sent.push(`${action}:${id}`);
      // The first answer comes last: the report keeps the chosen order anyway.
      await new Promise((resolve) => setTimeout(resolve, id === 'a' ? 20 : 0));
      return id === 'f'
        ? { ok: true, vm: vmFixture('f', { state: 'STARTING' }) }
        : { ok: false, problem: { code: 'CONFLICT', message: `${id} is busy` } };
    };
    const result = await runBulk(plan, send, (vm, answered) => applied.push(`${vm.id}:${answered?.state}`));
    expect(sent.sort()).toEqual(['start:a', 'start:e', 'start:f']);
    expect(result.accepted).toBe(1);
    expect(applied).toEqual(['f:STARTING']);
    expect(result.refused.map(({ vm, reason }) => `${vm.id}: ${reason}`)).toEqual(['a: a is busy', 'e: e is busy']);
  });
});
