// The access code a visitor's console runs on. The host shares it in one link,
// `/connect#code=…`: in the fragment, which browsers keep to themselves (it is never sent to the
// server, so it is in no request line, log or Referer). The page takes it out of the address
// bar at once, so it does not linger in history, bookmarks or screenshots, and keeps it in
// sessionStorage: reloading the tab keeps working, a new tab without the link does not.

const STORAGE_KEY = 'distribox.accessCode';

/** The link that opens the console with `code`, on the server at `origin`. */
export function shareLink(origin: string, code: string): string {
  return `${origin}/connect#code=${encodeURIComponent(code)}`;
}

function fragmentParams(hash: string): URLSearchParams {
  return new URLSearchParams(hash.replace(/^#/, ''));
}

/** The code in a fragment such as `#code=…`, or null. */
export function codeInFragment(hash: string): string | null {
  return fragmentParams(hash).get('code')?.trim() || null;
}

/** The fragment without its code; whatever else it holds stays. */
export function fragmentWithoutCode(hash: string): string {
  const params = fragmentParams(hash);
  params.delete('code');
  const rest = params.toString();
  return rest ? `#${rest}` : '';
}

type CodeStorage = Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>;

// Storage may be unavailable (disabled, or full): the code then lives in the page's memory
// only, and a reload asks for it again.
export function rememberCode(storage: CodeStorage, code: string): void {
  try {
    storage.setItem(STORAGE_KEY, code);
  } catch {
    // kept in memory only
  }
}

export function rememberedCode(storage: CodeStorage): string | null {
  try {
    return storage.getItem(STORAGE_KEY) || null;
  } catch {
    return null;
  }
}

export function forgetCode(storage: CodeStorage): void {
  try {
    storage.removeItem(STORAGE_KEY);
  } catch {
    // nothing was kept
  }
}

export type CodeSource = Pick<Window, 'location' | 'history' | 'sessionStorage'>;

/**
 * The code this tab runs on. A code in the address's fragment is remembered for the tab and
 * taken out of the address bar (replaceState: no history entry keeps it); without one, the code
 * the tab remembered. Calling it again finds the code remembered, so a second render is harmless.
 */
export function takeAccessCode(source: CodeSource = window): string | null {
  const { location, history, sessionStorage } = source;
  const fromLink = codeInFragment(location.hash);
  if (!fromLink) return rememberedCode(sessionStorage);
  rememberCode(sessionStorage, fromLink);
  history.replaceState(history.state, '', `${location.pathname}${location.search}${fragmentWithoutCode(location.hash)}`);
  return fromLink;
}
