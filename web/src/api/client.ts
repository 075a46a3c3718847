// One urql client for the whole app: queries and mutations over HTTP (`POST /graphql`),
// subscriptions over graphql-ws (`/graphql/ws`) with the token in `connection_init`. There is no
// normalized cache on purpose: live screens keep their own state from subscriptions, and a
// document cache would refetch whole lists after every mutation.
import { Client, fetchExchange, subscriptionExchange, type Exchange } from 'urql';
import { createClient as createWsClient, type Client as WsClient } from 'graphql-ws';
import { pipe, tap } from 'wonka';
import { MeQuery } from './operations';
import { getToken } from './token';

export type LinkStatus = 'connecting' | 'live' | 'reconnecting';

type Listener<T> = (value: T) => void;

/** Told when the server says the token is no longer good (logout elsewhere, revoked, expired). */
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

/** Watches every result for UNAUTHENTICATED while a token is held. */
const unauthenticatedExchange: Exchange = ({ forward }) => (ops$) =>
  pipe(
    forward(ops$),
    tap((result) => {
      const refused = result.error?.graphQLErrors.some((e) => e.extensions?.code === 'UNAUTHENTICATED');
      if (refused && getToken()) for (const listener of unauthenticatedListeners) listener();
    }),
  );

let ws: WsClient | null = null;

function liveLink(): WsClient {
  if (ws) return ws;
  let connectedBefore = false;
  ws = createWsClient({
    url: wsUrl(),
    lazy: true,
    keepAlive: 20_000,
    retryAttempts: Infinity,
    shouldRetry: () => true,
    connectionParams: () => {
      const token = getToken();
      return token ? { authorization: `Bearer ${token}` } : {};
    },
    on: {
      connecting: () => setLinkStatus(connectedBefore ? 'reconnecting' : 'connecting'),
      connected: () => {
        setLinkStatus('live');
        if (connectedBefore) for (const listener of reconnectListeners) listener();
        connectedBefore = true;
      },
      closed: (event) => {
        setLinkStatus('reconnecting');
        // 1002: the server refused `connection_init`, and graphql-ws gives up. Usually the
        // session ended (logout elsewhere, password change, disabled): asking `me` over HTTP
        // tells, and an UNAUTHENTICATED answer ends the session here too.
        if ((event as CloseEvent | undefined)?.code === 1002 && getToken()) {
          void client.query(MeQuery, {}).toPromise();
        }
      },
    },
  });
  return ws;
}

/** Closes the live link (after logout): the next subscription opens one with the new token. */
export function resetLiveLink(): void {
  ws?.dispose();
  ws = null;
}

export const client = new Client({
  url: '/graphql',
  requestPolicy: 'network-only',
  preferGetMethod: false,
  fetchOptions: () => {
    const token = getToken();
    return {
      headers: {
        accept: 'application/graphql-response+json, application/json;q=0.9',
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      cache: 'no-store',
    };
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
