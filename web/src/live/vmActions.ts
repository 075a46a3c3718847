// Which lifecycle actions a VM offers in its state, and the policy each needs. The table, the
// detail page and the tests share this one list.
import type { VmState } from '../gql/graphql';

export type VmAction = 'start' | 'shutdown' | 'forceStop' | 'reboot' | 'pause' | 'resume' | 'delete';

export interface ActionSpec {
  action: VmAction;
  label: string;
  policy: string;
  /** States in which the action makes sense; in others it is not offered at all. */
  states: readonly VmState[];
  danger?: boolean;
}

export const VM_ACTIONS: readonly ActionSpec[] = [
  { action: 'start', label: 'Start', policy: 'vms:start', states: ['STOPPED', 'CRASHED', 'FAILED'] },
  { action: 'shutdown', label: 'Shut down', policy: 'vms:stop', states: ['RUNNING'] },
  { action: 'reboot', label: 'Reboot', policy: 'vms:reboot', states: ['RUNNING'] },
  { action: 'pause', label: 'Pause', policy: 'vms:pause', states: ['RUNNING'] },
  { action: 'resume', label: 'Resume', policy: 'vms:pause', states: ['PAUSED'] },
  {
    action: 'forceStop',
    label: 'Force stop',
    policy: 'vms:stop',
    states: ['RUNNING', 'STARTING', 'STOPPING', 'PAUSED'],
    danger: true,
  },
  { action: 'delete', label: 'Delete', policy: 'vms:delete', states: ['STOPPED', 'CRASHED', 'FAILED', 'PENDING'], danger: true },
];

/** The actions to show for a VM: offered in its state, each marked allowed or not. */
export function actionsFor(vm: { state: VmState; allowed: readonly string[] }): (ActionSpec & { allowed: boolean })[] {
  return VM_ACTIONS.filter((spec) => spec.states.includes(vm.state)).map((spec) => ({
    ...spec,
    allowed: vm.allowed.includes(spec.policy),
  }));
}
