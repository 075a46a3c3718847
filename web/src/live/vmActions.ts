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

/** Why nothing can be done to a VM while snapshot work is under way on it (`Vm.busy`). */
export const SNAPSHOT_BUSY = 'Wait until the snapshot work under way is done';

export type SnapshotAction = 'take' | 'revert' | 'delete';

interface SnapshotRule {
  policy: string;
  /** Why the VM's state refuses the action, or null when it allows it. */
  refusal(state: VmState): string | null;
}

/** Off and asked for nothing: a crashed VM is too, and so is a failed one that has snapshots. */
const AT_REST: readonly VmState[] = ['STOPPED', 'CRASHED', 'FAILED'];

// As the server rules: taking needs the VM running (a snapshot with memory) or at rest stopped
// (disk only) — not offered when failed, which may mean its disk was never made; reverting
// needs it at rest stopped; deleting any time. Whatever the state, snapshot work under way
// (`busy`) makes every other wait.
const SNAPSHOT_RULES: Record<SnapshotAction, SnapshotRule> = {
  take: {
    policy: 'vms:snapshots:create',
    refusal: (state) =>
      state === 'RUNNING' || state === 'STOPPED' || state === 'CRASHED'
        ? null
        : state === 'PAUSED'
          ? 'Resume the VM to take a snapshot'
          : 'Wait until the VM is running or stopped to take a snapshot',
  },
  revert: {
    policy: 'vms:snapshots:revert',
    refusal: (state) => (AT_REST.includes(state) ? null : 'Stop the VM to revert it to a snapshot'),
  },
  delete: { policy: 'vms:snapshots:delete', refusal: () => null },
};

export interface SnapshotActionState {
  policy: string;
  /** The caller holds the policy. */
  allowed: boolean;
  /** Why the action cannot be done now, or null when it can. */
  blocked: string | null;
}

/** Whether `action` may be offered on the VM's snapshots now, and if not, why. */
export function snapshotAction(vm: { state: VmState; allowed: readonly string[]; busy: boolean }, action: SnapshotAction): SnapshotActionState {
  const rule = SNAPSHOT_RULES[action];
  return {
    policy: rule.policy,
    allowed: vm.allowed.includes(rule.policy),
    blocked: vm.busy ? SNAPSHOT_BUSY : rule.refusal(vm.state),
  };
}
