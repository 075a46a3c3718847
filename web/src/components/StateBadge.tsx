import type { VmState } from '../gql/graphql';
import { stateLabel } from '../format';

export function StateBadge({ state, busy = false }: { state: VmState; busy?: boolean }) {
  return (
    <span className="badge" data-state={state} data-busy={busy || undefined}>
      {stateLabel(state)}
      {busy ? ' · busy' : ''}
    </span>
  );
}
