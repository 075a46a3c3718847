// One urql client for the whole app: queries and mutations over HTTP (`POST /graphql`),
// subscriptions over graphql-ws (`/graphql/ws`). Both are authenticated by the session cookie
// login sets (HttpOnly: no script here ever holds the token). There is no normalized cache on
// purpose: live screens keep their own state from subscriptions, and a document cache would
// refetch whole lists after every mutation.
import {
  Client,
  fetchExchange,
  subscriptionExchange,
  type AnyVariables,
  type CombinedError,
  type Exchange,
  type TypedDocumentNode,
} from 'urql';
import { createClient as createWsClient, type Client as WsClient } from 'graphql-ws';
import { pipe, tap } from 'wonka';
import { backoffMs } from '../console/closing';
import { problemOf } from './errors';
import { MeQuery } from './operations';

export type LinkStatus = 'connecting' | 'live' | 'reconnecting';

type Listener<T> = (value: T) => void;

/** Told when the server says the session is no longer good (logout elsewhere, revoked, expired). */
const unauthenticatedListeners = new Set<Listener<void>>();
export function onUnauthenticated(listener: Listener<void>): () => void {
  unauthenticatedListeners.add(listener);
  return () => unauthenticatedListeners.delete(listener);
}

const statusListeners = new Set<Listener<LinkStatus>>();
let linkStatus: LinkStatus = 'connecting';
export function onLinkStatus(listener: Listener<LinkStatus>): () => void {
  statusListeners.add(listener);
  listener(linkStatus);
  return () => statusListeners.delete(listener);
}
function setLinkStatus(status: LinkStatus) {
  linkStatus = status;
  for (const listener of statusListeners) listener(status);
}

/** Told after the live link reconnected: events may have been missed, so state is reloaded. */
const reconnectListeners = new Set<Listener<void>>();
export function onReconnected(listener: Listener<void>): () => void {
  reconnectListeners.add(listener);
  return () => reconnectListeners.delete(listener);
}

function wsUrl(): string {
  const url = new URL('/graphql/ws', window.location.href);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return url.toString();
}

/** Tells every UNAUTHENTICATED answer; the session ignores those that come while logged out. */
const unauthenticatedExchange: Exchange = ({ forward }) => (ops$) =>
  pipe(
    forward(ops$),
    tap((result) => {
      const refused = result.error?.graphQLErrors.some((e) => e.extensions?.code === 'UNAUTHENTICATED');
      if (refused) for (const listener of unauthenticatedListeners) listener();
    }),
  );

let ws: WsClient | null = null;

function liveLink(): WsClient {
  if (ws) return ws;
  // Set when a connection was lost rather than closed for want of subscribers: only then may
  // events have been missed.
  let lost = false;
  ws = createWsClient({
    url: wsUrl(),
    lazy: true,
    // Keep the link a while without subscribers, so moving between screens does not reconnect.
    lazyCloseTimeout: 10_000,
    keepAlive: 20_000,
    retryAttempts: Infinity,
    shouldRetry: () => true,
    // No `connectionParams`: the upgrade request carries the session cookie, which is all the
    // server needs to accept a `connection_init` without a payload.
    on: {
      connecting: () => setLinkStatus(lost ? 'reconnecting' : 'connecting'),
      connected: () => {
        setLinkStatus('live');
        if (lost) for (const listener of reconnectListeners) listener();
        lost = false;
      },
      closed: (event) => {
        const code = (event as CloseEvent | undefined)?.code;
        if (code === 1000) return;
        lost = true;
        setLinkStatus('reconnecting');
        // 1002: the server refused `connection_init`, and graphql-ws gives up. Usually the
        // session ended (logout elsewhere, password change, disabled): asking `me` over HTTP
        // tells, and an UNAUTHENTICATED answer ends the session here too.
        if (code === 1002) void client.query(MeQuery, {}).toPromise();
      },
    },
  });
  return ws;
}

/** Closes the live link (after logout or login): the next subscription opens one with the new session. */
export function resetLiveLink(): void {
  ws?.dispose();
  ws = null;
}

/**
 * For the credential console: no session cookie and no session handling, so a wrong access
 * code typed in a tab that is also logged in does not end that tab's session.
 */
export const publicClient = new Client({
  url: '/graphql',
  requestPolicy: 'network-only',
  preferGetMethod: false,
  fetchOptions: { headers: { accept: 'application/graphql-response+json, application/json;q=0.9' }, credentials: 'omit', cache: 'no-store' },
  exchanges: [fetchExchange],
});

export const client = new Client({
  url: '/graphql',
  requestPolicy: 'network-only',
  preferGetMethod: false,
  fetchOptions: {
    headers: { accept: 'application/graphql-response+json, application/json;q=0.9' },
    credentials: 'same-origin',
    cache: 'no-store',
  },
  exchanges: [
    unauthenticatedExchange,
    fetchExchange,
    subscriptionExchange({
      forwardSubscription(request) {
        const input = { ...request, query: request.query || '' };
        return {
          subscribe(sink) {
            const unsubscribe = liveLink().subscribe(input, sink);
            return { unsubscribe };
          },
        };
      },
    }),
  ],
});

/**
 * Whether a failed subscription is worth another try: yes when the link or the server failed,
 * no when the server refused it (no policy, a VM that is gone, an ended session), which a
 * retry would only repeat — and record again as a refusal.
 */
export function shouldResubscribe(error: CombinedError): boolean {
  return ['NETWORK', 'UNAVAILABLE', 'INTERNAL'].includes(problemOf(error).code);
}

/**
 * Follows a subscription until the returned function is called. graphql-ws gives up on a
 * connection the server refused (close 1002: a restarting server, a throttled or ended
 * session) and fails every subscription on it; this subscribes again after a pause (1 s
 * doubling to 15 s), so live updates resume once the cause is gone. The link's status is the
 * socket's to report, not any one subscription's.
 */
export function subscribeLive<Data, Variables extends AnyVariables>(
  query: TypedDocumentNode<Data, Variables>,
  variables: Variables,
  onData: (data: Data) => void,
): () => void {
  let stopped = false;
  let attempt = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let current: { unsubscribe(): void } | null = null;
  const start = () => {
    current = client.subscription(query, variables).subscribe((result) => {
      if (result.data) {
        attempt = 0;
        onData(result.data);
      }
      if (result.error && !stopped) {
        current?.unsubscribe();
        if (!shouldResubscribe(result.error)) return;
        clearTimeout(timer);
        timer = setTimeout(start, backoffMs(attempt++));
      }
    });
  };
  start();
  return () => {
    stopped = true;
    clearTimeout(timer);
    current?.unsubscribe();
  };
}
