// The running VMs' last CPU and memory samples, for the table. Samples are not events, so they
// are read again on a timer — only while some VM runs and the tab is visible.
import { useCallback, useEffect, useState } from 'react';
import { VmLiveUsageQuery } from '../api/operations';
import { allVmPages } from './useVmList';
import { useVisibleInterval } from './useVisibleInterval';
import type { LiveUsage } from './vmView';

const REFRESH_MS = 10_000;

const none: ReadonlyMap<string, LiveUsage> = new Map();

/** Keeps the previous sample object when it did not change, so the row showing it is not re-rendered. */
function merge(previous: ReadonlyMap<string, LiveUsage>, nodes: { id: string; liveUsage: LiveUsage | null }[]): ReadonlyMap<string, LiveUsage> {
  const next = new Map<string, LiveUsage>();
  for (const { id, liveUsage } of nodes) {
    if (!liveUsage) continue;
    const before = previous.get(id);
    next.set(id, before && before.sampledAt === liveUsage.sampledAt ? before : liveUsage);
  }
  return next;
}

export function useVmUsage(anyRunning: boolean): ReadonlyMap<string, LiveUsage> {
  const [usage, setUsage] = useState(none);
  const load = useCallback(() => {
    allVmPages(VmLiveUsageQuery).then(
      (nodes) => setUsage((previous) => merge(previous, nodes)),
      // The table's own load reports trouble with the server; the last samples stay.
      () => {},
    );
  }, []);
  useEffect(() => {
    if (anyRunning) load();
    else setUsage(none);
  }, [anyRunning, load]);
  useVisibleInterval(REFRESH_MS, () => {
    if (anyRunning) load();
  });
  return usage;
}
