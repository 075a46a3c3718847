import type { VmState } from '../gql/graphql';
import { stateLabel } from '../format';
import { sentence } from './StateReason';

/** A VM's state; `reason` (why it is in that state) is its tooltip and part of its accessible text. */
export function StateBadge({ state, busy = false, reason }: { state: VmState; busy?: boolean; reason?: string | null }) {
  return (
    <span className="badge" data-state={state} data-busy={busy || undefined} title={reason ? sentence(reason) : undefined}>
      {stateLabel(state)}
      {busy ? ' · busy' : ''}
      {reason ? <span className="visually-hidden">: {reason}</span> : null}
    </span>
  );
}
