// Exports (audit log, usage) are fetched (with the session cookie) and handed to the browser as
// a file, rather than opened by a plain link, so a refusal is told on the screen instead of
// replacing the page.
import { UNREACHABLE } from './errors';

/** The name the server gave the file (`Content-Disposition: attachment; filename="…"`), if any. */
export function attachmentName(disposition: string | null): string | null {
  const match = /filename="?([^";]+)"?/i.exec(disposition ?? '');
  return match ? match[1].trim() : null;
}

/**
 * Fetches `url` and saves it under the server's name, else `name`; answers the refusal, if
 * any, or the same words as any other request when the server can't be reached.
 */
export async function download(url: string, name: string): Promise<string | null> {
  let response: Response;
  try {
    response = await fetch(url, { credentials: 'same-origin' });
  } catch {
    return UNREACHABLE.message;
  }
  if (!response.ok) return (await response.text()).trim() || `HTTP ${response.status}`;
  const blob = await response.blob();
  const link = document.createElement('a');
  link.href = URL.createObjectURL(blob);
  link.download = attachmentName(response.headers.get('content-disposition')) ?? name;
  link.click();
  URL.revokeObjectURL(link.href);
  return null;
}
