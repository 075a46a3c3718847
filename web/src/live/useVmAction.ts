// Runs one lifecycle action and reports a refusal. The VM's new state arrives through
// `vmEvents`; what the mutation answers is applied at once too.
import { useCallback } from 'react';
import type { TypedDocumentNode } from 'urql';
import { client } from '../api/client';
import { describe, problemOf, type ApiProblem } from '../api/errors';
import {
  DeleteVmMutation,
  ForceStopVmMutation,
  PauseVmMutation,
  RebootVmMutation,
  ResumeVmMutation,
  ShutdownVmMutation,
  StartVmMutation,
} from '../api/operations';
import { useNotify } from '../components/Notices';
import type { VmAction } from './vmActions';
import type { Vm } from './vmList';

/** Each of these answers `{ <field>: Vm }` for `{ id }`. */
const VM_MUTATIONS: Record<Exclude<VmAction, 'delete'>, TypedDocumentNode<Record<string, Vm>, { id: string }>> = {
  start: StartVmMutation,
  shutdown: ShutdownVmMutation,
  forceStop: ForceStopVmMutation,
  reboot: RebootVmMutation,
  pause: PauseVmMutation,
  resume: ResumeVmMutation,
};

/** What the server said to an action: the VM as it now is (none for a deletion), or why not. */
export type ActionOutcome = { ok: true; vm: Vm | null } | { ok: false; problem: ApiProblem };

/** Asks the server for `action` on one VM; never throws. */
export async function sendVmAction(action: VmAction, id: string): Promise<ActionOutcome> {
  const result =
    action === 'delete'
      ? await client.mutation(DeleteVmMutation, { id }).toPromise()
      : await client.mutation(VM_MUTATIONS[action], { id }).toPromise();
  if (result.error) return { ok: false, problem: problemOf(result.error) };
  const answered = action === 'delete' ? null : Object.values(result.data ?? {})[0];
  return { ok: true, vm: answered && typeof answered === 'object' ? (answered as Vm) : null };
}

export function useVmAction(onVm?: (vm: Vm) => void, onDeleted?: (id: string) => void) {
  const notify = useNotify();
  return useCallback(
    async (action: VmAction, vm: { id: string; name: string }): Promise<boolean> => {
      const outcome = await sendVmAction(action, vm.id);
      if (!outcome.ok) {
        notify(`${vm.name}: ${describe(outcome.problem)}`, 'error');
        return false;
      }
      if (action === 'delete') onDeleted?.(vm.id);
      else if (outcome.vm) onVm?.(outcome.vm);
      return true;
    },
    [notify, onVm, onDeleted],
  );
}
