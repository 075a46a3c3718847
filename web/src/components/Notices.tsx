// Short messages at the corner of the screen (an action's refusal, a copied secret), with
// aria-live so screen readers say them too. A notice about something under way ("vm-1 is being
// created") carries a key and a watcher: a newer notice with the same key replaces it, and the
// watcher takes it away as soon as the thing has moved on, so it never outlives its truth.
import { createContext, useCallback, useContext, useEffect, useRef, useState, type ReactNode } from 'react';

type Kind = 'info' | 'error';

export interface NoticeOptions {
  /** Identifies what the notice is about: a later notice with the same key replaces it. */
  key?: string;
  /**
   * Watches what the notice reports and calls `dismiss` once it no longer holds; answers how to
   * stop watching. The notice still leaves after a few seconds if nothing happens sooner.
   */
  until?: (dismiss: () => void) => () => void;
}

export type Notify = (text: string, kind?: Kind, options?: NoticeOptions) => void;

interface Notice {
  id: number;
  key: string | undefined;
  kind: Kind;
  text: string;
}

/** At most this many notices are shown; older ones leave first. */
const SHOWN = 5;
const LIFETIME_MS: Record<Kind, number> = { info: 5_000, error: 10_000 };

const NoticeContext = createContext<Notify>(() => {});

export function NoticesProvider({ children }: { children: ReactNode }) {
  const [notices, setNotices] = useState<Notice[]>([]);
  // The notices shown, updated synchronously, so one call can replace another right away.
  const shown = useRef<Notice[]>([]);
  const next = useRef(1);
  // What ends each notice: its timer and its watcher, stopped when it leaves for any reason.
  const endings = useRef(new Map<number, () => void>());

  const show = useCallback((list: Notice[]) => {
    shown.current = list;
    setNotices(list);
  }, []);

  const dismiss = useCallback(
    (id: number) => {
      endings.current.get(id)?.();
      endings.current.delete(id);
      show(shown.current.filter((n) => n.id !== id));
    },
    [show],
  );

  const notify = useCallback<Notify>(
    (text, kind = 'info', { key, until } = {}) => {
      if (key !== undefined) shown.current.filter((n) => n.key === key).forEach((n) => dismiss(n.id));
      while (shown.current.length >= SHOWN) dismiss(shown.current[0].id);
      const id = next.current++;
      show([...shown.current, { id, key, kind, text }]);
      const timer = setTimeout(() => dismiss(id), LIFETIME_MS[kind]);
      let stopWatching = () => {};
      endings.current.set(id, () => {
        clearTimeout(timer);
        stopWatching();
      });
      // Deferred: a watcher may find at once that the thing has already moved on.
      if (until) stopWatching = until(() => queueMicrotask(() => dismiss(id)));
    },
    [dismiss, show],
  );

  useEffect(() => {
    const all = endings.current;
    return () => {
      for (const end of all.values()) end();
      all.clear();
    };
  }, []);

  return (
    <NoticeContext.Provider value={notify}>
      {children}
      <div className="notices" aria-live="polite">
        {notices.map((notice) => (
          <div key={notice.id} className={`notice notice-${notice.kind}`} role={notice.kind === 'error' ? 'alert' : 'status'} data-notice-key={notice.key}>
            <p>{notice.text}</p>
            <button type="button" className="notice-close" aria-label="Dismiss" onClick={() => dismiss(notice.id)}>
              ×
            </button>
          </div>
        ))}
      </div>
    </NoticeContext.Provider>
  );
}

export function useNotify(): Notify {
  return useContext(NoticeContext);
}
