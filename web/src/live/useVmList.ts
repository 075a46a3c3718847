// Keeps a VmList live: loads every page, then follows `vmEvents`. After the live link
// reconnects it loads again, since events may have been missed meanwhile. No polling.
import { useCallback, useEffect, useRef, useState } from 'react';
import { CombinedError, type TypedDocumentNode } from 'urql';
import { client, onReconnected, subscribeLive } from '../api/client';
import { problemOf, type ApiProblem } from '../api/errors';
import { VmEventsSubscription, VmQuery, VmsPageQuery } from '../api/operations';
import { applyEvent, emptyList, loaded, reconcile, remove, upsert, type Vm, type VmList } from './vmList';

const PAGE = 200;
/** Events for the same VM within this window share one refetch. */
const REFETCH_DELAY_MS = 30;

interface VmPages<Node> {
  vms: { edges: { node: Node }[]; pageInfo: { hasNextPage: boolean; endCursor?: string | null } };
}

/** Every node of a paged `vms` query; throws the first page's refusal. */
export async function allVmPages<Node>(query: TypedDocumentNode<VmPages<Node>, { first: number; after: string | null }>): Promise<Node[]> {
  const nodes: Node[] = [];
  let after: string | null = null;
  for (;;) {
    const result = await client.query(query, { first: PAGE, after }).toPromise();
    if (result.error || !result.data) throw result.error ?? new CombinedError({ networkError: new Error('no data') });
    nodes.push(...result.data.vms.edges.map((edge) => edge.node));
    if (!result.data.vms.pageInfo.hasNextPage) return nodes;
    after = result.data.vms.pageInfo.endCursor ?? null;
  }
}

export interface LiveVms {
  list: VmList;
  loading: boolean;
  /** Why the last load failed; the list keeps what it showed, and the load is retried. */
  problem: ApiProblem | null;
  /** Puts what a mutation answered into the list at once. */
  put(vm: Vm): void;
}

const RETRY_MS = 5_000;

export function useVmList(): LiveVms {
  const [list, setList] = useState<VmList>(emptyList);
  const [loading, setLoading] = useState(true);
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  // The latest list, updated synchronously, so an event's refetch is known when it arrives.
  const current = useRef<VmList>(emptyList);
  // VMs that changed while a full load was in flight: the load's snapshot may predate them.
  const touched = useRef<Set<string> | null>(null);
  const commit = useCallback((change: (list: VmList) => VmList, ids: readonly string[] = []) => {
    for (const id of ids) touched.current?.add(id);
    const next = change(current.current);
    if (next !== current.current) {
      current.current = next;
      setList(next);
    }
  }, []);
  // Stable, so rows memoized on their callbacks are not all re-rendered on every event.
  const put = useCallback((vm: Vm) => commit((list) => upsert(list, vm), [vm.id]), [commit]);
  const pending = useRef(new Set<string>());
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);

  useEffect(() => {
    let cancelled = false;
    let loadNumber = 0;
    let retry: ReturnType<typeof setTimeout> | undefined;

    const reload = async () => {
      const mine = ++loadNumber;
      clearTimeout(retry);
      touched.current = new Set();
      try {
        const vms = await allVmPages(VmsPageQuery);
        if (cancelled || mine !== loadNumber) return;
        const during = touched.current;
        touched.current = null;
        commit((previous) => reconcile(loaded(vms, previous), previous, during));
        setProblem(null);
      } catch (error) {
        if (cancelled || mine !== loadNumber) return;
        touched.current = null;
        setProblem(problemOf(error as CombinedError));
        retry = setTimeout(() => void reload(), RETRY_MS);
      } finally {
        if (!cancelled && mine === loadNumber) setLoading(false);
      }
    };

    const flush = () => {
      timer.current = null;
      const ids = [...pending.current];
      pending.current.clear();
      for (const id of ids) {
        client
          .query(VmQuery, { id })
          .toPromise()
          .then((result) => {
            if (cancelled) return;
            const vm = result.data?.vm;
            if (vm) commit((list) => upsert(list, vm), [id]);
            // Gone, or no longer visible to this account.
            else if (result.data && vm === null) commit((list) => remove(list, id), [id]);
          });
      }
    };

    const unsubscribe = subscribeLive(VmEventsSubscription, {}, ({ vmEvents: event }) => {
      const { list: next, refetch } = applyEvent(current.current, event);
      commit(() => next, [event.vmId]);
      if (refetch) {
        pending.current.add(refetch);
        timer.current ??= setTimeout(flush, REFETCH_DELAY_MS);
      }
    });
    const stopReconnects = onReconnected(() => void reload());
    void reload();
    return () => {
      cancelled = true;
      unsubscribe();
      stopReconnects();
      clearTimeout(retry);
      if (timer.current) clearTimeout(timer.current);
      timer.current = null;
      pending.current.clear();
    };
  }, [commit]);

  return { list, loading, problem, put };
}
