// What the host can give a VM, for forms that size one: its CPUs (the server refuses more
// vCPUs) and the memory free right now. Null for callers who may not read the host (host:get).
import { useQuery } from 'urql';
import { HostQuery } from '../api/operations';
import { useSession } from '../session';

export interface HostLimits {
  cpus: number;
  memoryAvailableMib: number;
}

export function useHostLimits(): HostLimits | null {
  const { can } = useSession();
  const allowed = can('host:get');
  // Free memory changes all the time: show the cached answer, but ask again.
  const [{ data }] = useQuery({ query: HostQuery, pause: !allowed, requestPolicy: 'cache-and-network' });
  return allowed && data ? data.host : null;
}
