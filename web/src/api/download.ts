// Exports (audit log, usage) need the bearer token, which a plain link cannot send: they are
// fetched and handed to the browser as a file.
import { UNREACHABLE } from './errors';
import { getToken } from './token';

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
  const token = getToken();
  let response: Response;
  try {
    response = await fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {} });
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
