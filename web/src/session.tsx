// The logged-in account, shared by every screen: who it is, what it may do, and logging in and
// out. The session itself is an HttpOnly cookie the server sets at login, shared by every tab of
// the browser; no script here ever sees its token. Policies come from the server (`me`); the
// server still checks every call, this only decides what the dashboard shows.
import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import { client, onUnauthenticated, resetLiveLink } from './api/client';
import { LogoutMutation, MeQuery } from './api/operations';
import type { AccountFieldsFragment } from './gql/graphql';

export type Account = AccountFieldsFragment;

export const ADMIN_POLICY = 'distribox:admin';

/** Whether `policies` include `policy`, directly or through `distribox:admin`. */
export function holds(policies: readonly string[], policy: string): boolean {
  return policies.includes(ADMIN_POLICY) || policies.includes(policy);
}

interface SessionValue {
  account: Account | null;
  /** Whether the server is still being asked who is logged in (first paint of a tab). */
  checking: boolean;
  /** Why the last session ended, if it ended without this tab logging out. */
  endedBecause: string | null;
  can(policy: string): boolean;
  /** Login succeeded (the server has set the cookie): `account` is logged in, in every tab. */
  start(account: Account): void;
  logout(): Promise<void>;
  /** Forgets a session the server has ended (a password change ends all of them). */
  ended(reason: string): void;
}

/**
 * The account as login returned it, in localStorage so every tab knows it: an account without
 * `auth:me:get` can't ask `me`. Nothing secret (username, policies). Its removal is how the
 * other tabs hear of a logout.
 */
export const ACCOUNT_KEY = 'distribox.account';

export function parseAccount(stored: string | null): Account | null {
  try {
    const account = JSON.parse(stored ?? 'null') as Account | null;
    return account && typeof account.id === 'string' && Array.isArray(account.policies) ? account : null;
  } catch {
    return null;
  }
}

function storedAccount(): Account | null {
  try {
    return parseAccount(window.localStorage.getItem(ACCOUNT_KEY));
  } catch {
    return null; // storage disabled
  }
}

function storeAccount(account: Account | null) {
  try {
    if (account) window.localStorage.setItem(ACCOUNT_KEY, JSON.stringify(account));
    else window.localStorage.removeItem(ACCOUNT_KEY);
  } catch {
    // storage disabled: the account lasts as long as the page
  }
}

/** What `me` says about the cookie: who it logs in, that it logs in someone unnamed, or nobody. */
export type MeAnswer = { kind: 'account'; account: Account } | { kind: 'forbidden' } | { kind: 'unauthenticated' } | { kind: 'unknown' };

/**
 * Who is logged in, given `me`'s answer and the account this browser remembers. FORBIDDEN means
 * the session is good but may not read itself (no `auth:me:get`): the remembered account stands.
 * Unknown (the server unreachable) keeps it too; the next request will tell.
 */
export function accountAfter(answer: MeAnswer, remembered: Account | null): Account | null {
  switch (answer.kind) {
    case 'account':
      return answer.account;
    case 'unauthenticated':
      return null;
    default:
      return remembered;
  }
}

async function askMe(): Promise<MeAnswer> {
  const result = await client.query(MeQuery, {}).toPromise();
  if (result.data?.me) return { kind: 'account', account: result.data.me };
  const codes = result.error?.graphQLErrors.map((e) => e.extensions?.code) ?? [];
  if (codes.includes('UNAUTHENTICATED')) return { kind: 'unauthenticated' };
  if (codes.includes('FORBIDDEN')) return { kind: 'forbidden' };
  return { kind: 'unknown' };
}

const SESSION_ENDED = 'Your session has ended. Log in again.';

const SessionContext = createContext<SessionValue | null>(null);

export function SessionProvider({ children }: { children: ReactNode }) {
  const [account, setAccountState] = useState<Account | null>(storedAccount);
  const [checking, setChecking] = useState(true);
  const [endedBecause, setEndedBecause] = useState<string | null>(null);
  // For listeners registered once: whether this tab believes it is logged in right now.
  const current = useRef(account);
  useEffect(() => {
    current.current = account;
  }, [account]);

  const setAccount = useCallback((next: Account | null) => {
    storeAccount(next);
    setAccountState(next);
  }, []);

  const end = useCallback(
    (reason: string | null) => {
      resetLiveLink();
      setAccount(null);
      setEndedBecause(reason);
    },
    [setAccount],
  );

  useEffect(() => {
    let cancelled = false;
    void askMe().then((answer) => {
      if (cancelled) return;
      const next = accountAfter(answer, storedAccount());
      if (next) setAccount(next);
      else if (current.current) end(SESSION_ENDED);
      else setAccount(null);
      setChecking(false);
    });
    return () => {
      cancelled = true;
    };
  }, [end, setAccount]);

  // Any request answered UNAUTHENTICATED: the session ended elsewhere (logout in another
  // browser, password change, disabled account, expiry). Ignored while logged out, where a
  // wrong password answers the same.
  useEffect(
    () =>
      onUnauthenticated(() => {
        if (current.current) end(SESSION_ENDED);
      }),
    [end],
  );

  // Another tab logged out (the account was removed) or logged in (possibly as someone else:
  // the cookie, shared by all tabs, changed with it).
  useEffect(() => {
    const changed = (event: StorageEvent) => {
      if (event.key !== ACCOUNT_KEY) return;
      const next = parseAccount(event.newValue);
      resetLiveLink();
      setAccountState(next);
      if (next) setEndedBecause(null);
      else if (current.current) setEndedBecause('Your session ended in another tab.');
    };
    window.addEventListener('storage', changed);
    return () => window.removeEventListener('storage', changed);
  }, []);

  const value = useMemo<SessionValue>(
    () => ({
      account,
      checking,
      endedBecause,
      can: (policy) => holds(account?.policies ?? [], policy),
      start(next) {
        resetLiveLink();
        setEndedBecause(null);
        setAccount(next);
      },
      async logout() {
        // The server ends the session and clears the cookie. Until it has, the cookie still
        // logs this browser in, so a logout the server never heard of is said, not pretended.
        const result = await client.mutation(LogoutMutation, {}).toPromise();
        const ended =
          result.data?.logout === true ||
          result.error?.graphQLErrors.some((e) => e.extensions?.code === 'UNAUTHENTICATED');
        if (!ended) throw new Error('Could not log out: the server did not answer. Try again.');
        end(null);
      },
      ended: end,
    }),
    [account, checking, endedBecause, end, setAccount],
  );
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): SessionValue {
  const value = useContext(SessionContext);
  if (!value) throw new Error('useSession outside SessionProvider');
  return value;
}
