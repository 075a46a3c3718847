// Watches a VM that is on its way somewhere (being created, starting) until it gets there, so a
// notice saying it is under way leaves when that stops being true.
import { client, subscribeLive } from '../api/client';
import { VmEventsSubscription, VmQuery } from '../api/operations';
import type { VmState } from '../gql/graphql';

const UNDER_WAY: readonly VmState[] = ['PENDING', 'STARTING'];

/**
 * A notice watcher (`NoticeOptions.until`): calls `done` once the VM is neither being created
 * nor starting — running, stopped, failed or gone.
 */
export function untilVmSettles(vmId: string) {
  return (done: () => void): (() => void) => {
    const seen = (state: VmState) => {
      if (!UNDER_WAY.includes(state)) done();
    };
    const stop = subscribeLive(VmEventsSubscription, { vmId }, ({ vmEvents }) => seen(vmEvents.state));
    // The VM may have moved on before the subscription was live.
    void client
      .query(VmQuery, { id: vmId })
      .toPromise()
      .then((result) => {
        if (result.data) seen(result.data.vm?.state ?? 'DELETED');
      });
    return stop;
  };
}
