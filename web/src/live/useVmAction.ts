// Runs one lifecycle action and reports a refusal. The VM's new state arrives through
// `vmEvents`; what the mutation answers is applied at once too.
import { useCallback } from 'react';
import type { TypedDocumentNode } from 'urql';
import { client } from '../api/client';
import { describe, problemOf } from '../api/errors';
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

export function useVmAction(onVm?: (vm: Vm) => void, onDeleted?: (id: string) => void) {
  const notify = useNotify();
  return useCallback(
    async (action: VmAction, vm: { id: string; name: string }): Promise<boolean> => {
      const variables = { id: vm.id };
      const result =
        action === 'delete'
          ? await client.mutation(DeleteVmMutation, variables).toPromise()
          : await client.mutation(VM_MUTATIONS[action], variables).toPromise();
      if (result.error) {
        notify(`${vm.name}: ${describe(problemOf(result.error))}`, 'error');
        return false;
      }
      if (action === 'delete') onDeleted?.(vm.id);
      else {
        const answered = Object.values(result.data ?? {})[0];
        if (answered && typeof answered === 'object') onVm?.(answered as Vm);
      }
      return true;
    },
    [notify, onVm, onDeleted],
  );
}
