// Why a VM is in its state, when the state alone does not say: what paused it, why it crashed or
// failed. A pause someone made outside Distribox only explains; any other reason is a fault that
// someone has to look at.
import type { PauseReason, VmState } from '../gql/graphql';
import { Callout, type Severity } from './Callout';

/** The server's reasons are lower-case clauses ("the guest crashed"); on their own they read as sentences. */
export function sentence(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/**
 * A pause someone made outside Distribox only explains; everything else the server explains (a
 * disk error, a hypervisor error, a crash, a failure) is a fault.
 */
export function reasonSeverity(state: VmState, pauseReason: PauseReason | null | undefined): Severity {
  return state === 'PAUSED' && pauseReason === 'OUTSIDE' ? 'info' : 'warning';
}

export function StateReason({
  state,
  reason,
  pauseReason,
}: {
  state: VmState;
  reason: string | null | undefined;
  pauseReason: PauseReason | null | undefined;
}) {
  if (!reason) return null;
  return (
    <Callout severity={reasonSeverity(state, pauseReason)} testId="state-reason">
      {sentence(reason)}
    </Callout>
  );
}
