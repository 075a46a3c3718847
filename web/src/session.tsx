// The logged-in account, shared by every screen: who it is, what it may do, and logging in and
// out. Policies come from the server (`me`); the server still checks every call, this only
// decides what the dashboard shows.
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { client, onUnauthenticated, resetLiveLink } from './api/client';
import { LogoutMutation, MeQuery } from './api/operations';
import { getToken, setToken } from './api/token';
import type { AccountFieldsFragment } from './gql/graphql';

export type Account = AccountFieldsFragment;

export const ADMIN_POLICY = 'distribox:admin';

/** Whether `policies` include `policy`, directly or through `distribox:admin`. */
export function holds(policies: readonly string[], policy: string): boolean {
  return policies.includes(ADMIN_POLICY) || policies.includes(policy);
}

interface SessionValue {
  account: Account | null;
  /** Whether the stored token is still being checked (first paint after a reload). */
  checking: boolean;
  /** Why the last session ended, if the server ended it. */
  endedBecause: string | null;
  can(policy: string): boolean;
  start(token: string, account: Account): void;
  logout(): Promise<void>;
  /** Forgets a session the server has ended (a password change ends all of them). */
  ended(reason: string): void;
}

const ACCOUNT_KEY = 'distribox.account';

function storedAccount(): Account | null {
  try {
    return JSON.parse(window.sessionStorage.getItem(ACCOUNT_KEY) ?? 'null') as Account | null;
  } catch {
    return null;
  }
}

function storeAccount(account: Account | null) {
  try {
    if (account) window.sessionStorage.setItem(ACCOUNT_KEY, JSON.stringify(account));
    else window.sessionStorage.removeItem(ACCOUNT_KEY);
  } catch {
    // storage disabled: the account lasts as long as the page
  }
}

const SessionContext = createContext<SessionValue | null>(null);

export function SessionProvider({ children }: { children: ReactNode }) {
  // The account as login returned it, so a reload works without `auth:me:get` too.
  const [account, setAccountState] = useState<Account | null>(() => (getToken() ? storedAccount() : null));
  const [checking, setChecking] = useState(() => getToken() !== null);
  const setAccount = useCallback((next: Account | null) => {
    storeAccount(next);
    setAccountState(next);
  }, []);
  const [endedBecause, setEndedBecause] = useState<string | null>(null);

  const end = useCallback((reason: string | null) => {
    setToken(null);
    resetLiveLink();
    setAccount(null);
    setEndedBecause(reason);
  }, [setAccount]);

  const refresh = useCallback(async () => {
    if (!getToken()) return;
    const result = await client.query(MeQuery, {}).toPromise();
    if (result.data?.me) setAccount(result.data.me);
    else if (!storedAccount()) end(null);
    else if (result.error?.graphQLErrors.some((e) => e.extensions?.code === 'UNAUTHENTICATED')) {
      end('Your session has ended. Log in again.');
    }
  }, [end, setAccount]);

  useEffect(() => {
    refresh().finally(() => setChecking(false));
  }, [refresh]);

  useEffect(
    () => onUnauthenticated(() => end('Your session has ended. Log in again.')),
    [end],
  );

  const value = useMemo<SessionValue>(
    () => ({
      account,
      checking,
      endedBecause,
      can: (policy) => holds(account?.policies ?? [], policy),
      start(token, next) {
        setToken(token);
        resetLiveLink();
        setEndedBecause(null);
        setAccount(next);
      },
      async logout() {
        await client.mutation(LogoutMutation, {}).toPromise();
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
