// Timers for numbers that have no events (host resources, usage samples): they run only while
// the tab is visible, so a tab in the background does not keep querying for nobody.
import { useEffect, useRef } from 'react';

/** Calls `tick` every `ms` while the page is visible. */
export function useVisibleInterval(ms: number, tick: () => void) {
  const latest = useRef(tick);
  latest.current = tick;
  useEffect(() => {
    const timer = setInterval(() => {
      if (!document.hidden) latest.current();
    }, ms);
    return () => clearInterval(timer);
  }, [ms]);
}
