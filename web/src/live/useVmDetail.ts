// One VM's details, history and credentials, refetched when `vmEvents` says it changed.
import { useCallback, useEffect, useRef } from 'react';
import { useQuery } from 'urql';
import { onReconnected, subscribeLive } from '../api/client';
import { VmCredentialsQuery, VmDetailQuery, VmEventsSubscription, VmHistoryQuery } from '../api/operations';

const HISTORY = 100;

export function useVmDetail(id: string) {
  const [detail, refetchDetail] = useQuery({ query: VmDetailQuery, variables: { id } });
  // Asked only of callers who may list them: a refused query would be an audit entry each time.
  const credentials = detail.data?.vm?.allowed.includes('vms:credentials:list') ?? false;
  const [history, refetchHistory] = useQuery({ query: VmHistoryQuery, variables: { id, first: HISTORY } });
  const [creds, refetchCreds] = useQuery({ query: VmCredentialsQuery, variables: { id }, pause: !credentials });
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);

  const refresh = useCallback(() => {
    refetchDetail({ requestPolicy: 'network-only' });
    refetchHistory({ requestPolicy: 'network-only' });
    if (credentials) refetchCreds({ requestPolicy: 'network-only' });
  }, [refetchDetail, refetchHistory, refetchCreds, credentials]);

  useEffect(() => {
    const unsubscribe = subscribeLive(VmEventsSubscription, { vmId: id }, () => {
      // Bursts of events (start → started) share one refetch.
      timer.current ??= setTimeout(() => {
        timer.current = null;
        refresh();
      }, 30);
    });
    const stop = onReconnected(refresh);
    return () => {
      unsubscribe();
      stop();
      if (timer.current) clearTimeout(timer.current);
      timer.current = null;
    };
  }, [id, refresh]);

  return { detail, history, creds, refresh };
}
