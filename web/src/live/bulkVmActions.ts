// One action on many VMs: which of the chosen VMs it applies to (the state and policy rules of
// vmActions), then one mutation per VM, each answer kept, so the table can say which VMs
// refused and why.
import { describe, type ApiProblem } from '../api/errors';
import { stateLabel } from '../format';
import { VM_ACTIONS, type VmAction } from './vmActions';
import type { Vm } from './vmList';
import type { ActionOutcome } from './useVmAction';

export type BulkAction = Extract<VmAction, 'start' | 'forceStop' | 'delete'>;

export const BULK_ACTIONS: readonly BulkAction[] = ['start', 'forceStop', 'delete'];

export interface BulkPlan {
  action: BulkAction;
  /** The VMs the action is asked of. */
  ready: Vm[];
  /** The chosen VMs it is not asked of, and why. */
  skipped: { vm: Vm; reason: string }[];
}

export function bulkPlan(action: BulkAction, chosen: readonly Vm[]): BulkPlan {
  const spec = VM_ACTIONS.find((candidate) => candidate.action === action)!;
  const plan: BulkPlan = { action, ready: [], skipped: [] };
  for (const vm of chosen) {
    const reason = !vm.allowed.includes(spec.policy)
      ? `needs the ${spec.policy} policy`
      : !spec.states.includes(vm.state)
        ? `it is ${stateLabel(vm.state).toLowerCase()}`
        : vm.busy
          ? 'snapshot work is under way on it'
          : null;
    if (reason) plan.skipped.push({ vm, reason });
    else plan.ready.push(vm);
  }
  return plan;
}

export interface BulkResult {
  plan: BulkPlan;
  /** The VMs the server refused, with its reason. */
  refused: { vm: Vm; reason: string }[];
  /** How many VMs the server accepted the action for. */
  accepted: number;
}

/** At most this many mutations at once: enough to be quick, few enough not to flood the server. */
const PARALLEL = 4;

/**
 * Sends the plan's action to each of its VMs through `send`, `PARALLEL` at a time, and calls
 * `onAccepted` with each VM the server accepted it for (and its answer, when it gave one).
 */
export async function runBulk(
  plan: BulkPlan,
  send: (action: VmAction, id: string) => Promise<ActionOutcome>,
  onAccepted: (vm: Vm, answered: Vm | null) => void,
): Promise<BulkResult> {
  const refused: { vm: Vm; problem: ApiProblem }[] = [];
  let accepted = 0;
  const queue = [...plan.ready];
  const worker = async () => {
    for (let vm = queue.shift(); vm; vm = queue.shift()) {
      const outcome = await send(plan.action, vm.id);
      if (outcome.ok) {
        accepted++;
        onAccepted(vm, outcome.vm);
      } else refused.push({ vm, problem: outcome.problem });
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL, queue.length) }, worker));
  // In the order the VMs were chosen, not the order the answers came in.
  const order = new Map(plan.ready.map((vm, i) => [vm.id, i]));
  refused.sort((a, b) => order.get(a.vm.id)! - order.get(b.vm.id)!);
  return { plan, accepted, refused: refused.map(({ vm, problem }) => ({ vm, reason: describe(problem) })) };
}
