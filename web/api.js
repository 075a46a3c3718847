// GraphQL over HTTP, the session token and the logged-in account's policies.

const TOKEN_KEY = 'distribox.token';
const ACCOUNT_KEY = 'distribox.account';

/** An error from the API: `code` is `extensions.code` (UNAUTHENTICATED, FORBIDDEN, NOT_FOUND,
 * BAD_INPUT, CONFLICT, …), `NETWORK` when the server could not be reached, or null if the server
 * sent none. */
export class ApiError extends Error {
  constructor(message, code = null, errors = []) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
    this.errors = errors;
  }
}

function storage() {
  try {
    return window.sessionStorage;
  } catch {
    return null; // storage disabled: the session lasts as long as the page
  }
}

let memoryToken = null;

export function getToken() {
  return storage()?.getItem(TOKEN_KEY) ?? memoryToken;
}

export function setToken(token) {
  memoryToken = token;
  const s = storage();
  if (!s) return;
  if (token) s.setItem(TOKEN_KEY, token);
  else s.removeItem(TOKEN_KEY);
}

/** The account of the session, kept so a reload works even without `auth:me:get`. */
export const session = {
  account: null,
  load() {
    try {
      this.account = JSON.parse(storage()?.getItem(ACCOUNT_KEY) ?? 'null');
    } catch {
      this.account = null;
    }
    return this.account;
  },
  set(account) {
    this.account = account;
    const s = storage();
    if (!s) return;
    if (account) s.setItem(ACCOUNT_KEY, JSON.stringify(account));
    else s.removeItem(ACCOUNT_KEY);
  },
};

/** Whether the logged-in account holds `policy` (`distribox:admin` grants everything). */
export function can(policy) {
  const policies = session.account?.policies ?? [];
  return policies.includes('distribox:admin') || policies.includes(policy);
}

let unauthenticatedHandler = null;

/** Called whenever the server says the session's token is no good. */
export function onUnauthenticated(handler) {
  unauthenticatedHandler = handler;
}

/** Runs a GraphQL operation and returns its `data`; throws an `ApiError` on any error. */
export async function gql(query, variables = {}) {
  const token = getToken();
  const headers = {
    'content-type': 'application/json',
    accept: 'application/graphql-response+json, application/json;q=0.9',
  };
  if (token) headers.authorization = `Bearer ${token}`;
  let response;
  try {
    response = await fetch('/graphql', {
      method: 'POST',
      headers,
      body: JSON.stringify({ query, variables }),
      credentials: 'same-origin',
      cache: 'no-store',
    });
  } catch {
    throw new ApiError('Cannot reach the server. Check your connection and try again.', 'NETWORK');
  }
  let body;
  try {
    body = await response.json();
  } catch {
    throw new ApiError(`The server sent an unexpected answer (HTTP ${response.status}).`, 'INTERNAL');
  }
  const errors = Array.isArray(body?.errors) ? body.errors : [];
  if (errors.length) {
    const first = errors[0];
    const code = first?.extensions?.code ?? null;
    const error = new ApiError(first?.message || 'The request failed.', code, errors);
    if (token && errors.some((e) => e?.extensions?.code === 'UNAUTHENTICATED')) {
      unauthenticatedHandler?.(error);
    }
    throw error;
  }
  return body?.data ?? {};
}
