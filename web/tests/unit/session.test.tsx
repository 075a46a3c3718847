import { act, cleanup, render, screen } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ACCOUNT_KEY, accountAfter, parseAccount, SessionProvider, useSession, type Account } from '../../src/session';

// `me` answers what each test says; nothing reaches a server.
const meAnswer = vi.hoisted(() => ({ current: {} as { data?: unknown; error?: unknown } }));
vi.mock('../../src/api/client', () => ({
  client: {
    query: () => ({ toPromise: () => Promise.resolve(meAnswer.current) }),
    mutation: () => ({ toPromise: () => Promise.resolve({}) }),
  },
  onUnauthenticated: () => () => {},
  resetLiveLink: () => {},
}));

const alice: Account = { id: 'a1', username: 'alice', policies: ['vms:get'], disabled: false, createdAt: '2026-01-01T00:00:00Z' };
const refusal = (code: string) => ({ error: { graphQLErrors: [{ extensions: { code } }] } });

/** Who the session says is logged in, once the server has been asked. */
function Who() {
  const { account, checking, endedBecause } = useSession();
  if (checking) return <p>checking</p>;
  return <p>{account ? `logged in as ${account.username}` : `logged out${endedBecause ? `: ${endedBecause}` : ''}`}</p>;
}

describe('accountAfter', () => {
  it('believes `me` when it answers, and ends the session when it says UNAUTHENTICATED', () => {
    expect(accountAfter({ kind: 'account', account: alice }, null)).toBe(alice);
    expect(accountAfter({ kind: 'unauthenticated' }, alice)).toBeNull();
  });

  it('keeps the remembered account when the session may not read itself or the server is away', () => {
    expect(accountAfter({ kind: 'forbidden' }, alice)).toBe(alice);
    expect(accountAfter({ kind: 'unknown' }, alice)).toBe(alice);
    expect(accountAfter({ kind: 'forbidden' }, null)).toBeNull();
  });
});

describe('parseAccount', () => {
  it('reads a stored account and refuses anything else', () => {
    expect(parseAccount(JSON.stringify(alice))).toEqual(alice);
    for (const stored of [null, '', 'not json', '"alice"', '{"id": 1}']) expect(parseAccount(stored)).toBeNull();
  });
});

describe('SessionProvider', () => {
  beforeEach(() => localStorage.clear());
  afterEach(() => {
    cleanup();
    localStorage.clear();
  });

  it('knows who is logged in from `me` alone: a new tab holds no token', async () => {
    meAnswer.current = { data: { me: alice } };
    render(<SessionProvider><Who /></SessionProvider>);
    expect(await screen.findByText('logged in as alice')).toBeInTheDocument();
    expect(parseAccount(localStorage.getItem(ACCOUNT_KEY))).toEqual(alice);
  });

  it('stays logged in as the remembered account when `me` is forbidden', async () => {
    localStorage.setItem(ACCOUNT_KEY, JSON.stringify(alice));
    meAnswer.current = refusal('FORBIDDEN');
    render(<SessionProvider><Who /></SessionProvider>);
    expect(await screen.findByText('logged in as alice')).toBeInTheDocument();
  });

  it('forgets a remembered account the server no longer knows', async () => {
    localStorage.setItem(ACCOUNT_KEY, JSON.stringify(alice));
    meAnswer.current = refusal('UNAUTHENTICATED');
    render(<SessionProvider><Who /></SessionProvider>);
    expect(await screen.findByText(/^logged out: Your session has ended/)).toBeInTheDocument();
    expect(localStorage.getItem(ACCOUNT_KEY)).toBeNull();
  });

  it('follows another tab logging out and logging in', async () => {
    meAnswer.current = { data: { me: alice } };
    render(<SessionProvider><Who /></SessionProvider>);
    await screen.findByText('logged in as alice');
    act(() => {
      window.dispatchEvent(new StorageEvent('storage', { key: ACCOUNT_KEY, oldValue: JSON.stringify(alice), newValue: null }));
    });
    expect(screen.getByText('logged out: Your session ended in another tab.')).toBeInTheDocument();
    const bob = { ...alice, id: 'b2', username: 'bob' };
    act(() => {
      window.dispatchEvent(new StorageEvent('storage', { key: ACCOUNT_KEY, oldValue: null, newValue: JSON.stringify(bob) }));
    });
    expect(screen.getByText('logged in as bob')).toBeInTheDocument();
  });
});
