// Why a VM is in its state, when the state alone does not say: what paused it, why it crashed or
// failed. A pause someone made outside Distribox only explains; any other reason is a fault that
// someone has to look at.
import type { VmState } from '../gql/graphql';
import { Callout, type Severity } from './Callout';

/** The server's reasons are lower-case clauses ("the guest crashed"); on their own they read as sentences. */
export function sentence(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/**
 * The server says why in words only. Its outside pause reads "paused outside Distribox (…)";
 * everything else it explains (a disk error, a hypervisor error, a crash, a failure) is a fault.
 */
export function reasonSeverity(state: VmState, reason: string): Severity {
  return state === 'PAUSED' && reason.includes('outside Distribox') ? 'info' : 'warning';
}

export function StateReason({ state, reason }: { state: VmState; reason: string | null | undefined }) {
  if (!reason) return null;
  return (
    <Callout severity={reasonSeverity(state, reason)} testId="state-reason">
      {sentence(reason)}
    </Callout>
  );
}
