// The session's bearer token. Kept in sessionStorage: a tab keeps its login across reloads,
// closing the tab forgets the token (the server's session then ends at its idle timeout), and
// another tab or browser profile has its own session.

const TOKEN_KEY = 'distribox.token';

let memoryToken: string | null = null;

function storage(): Storage | null {
  try {
    return window.sessionStorage;
  } catch {
    return null; // storage disabled: the session lasts as long as the page
  }
}

export function getToken(): string | null {
  return storage()?.getItem(TOKEN_KEY) ?? memoryToken;
}

export function setToken(token: string | null): void {
  memoryToken = token;
  const s = storage();
  if (!s) return;
  if (token) s.setItem(TOKEN_KEY, token);
  else s.removeItem(TOKEN_KEY);
}
