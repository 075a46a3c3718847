// Uploading a disk image: plain HTTP (`POST /images/upload`, the file as the body) with the
// session cookie, through XMLHttpRequest because fetch cannot tell how much of a request body was
// sent. The server answers once the file is stored and verified.
import { UNREACHABLE, type ApiProblem, type ErrorCode } from './errors';

export interface UploadFields {
  name: string;
  fileName: string;
  osFamily?: string;
  osVersion?: string;
  defaultUser?: string;
  firmware?: string;
  sha256?: string;
}

/** The upload's address: the fields as query parameters, empty optional ones left out. */
export function uploadUrl(fields: UploadFields): string {
  const params = new URLSearchParams({ name: fields.name.trim(), fileName: fields.fileName });
  for (const key of ['osFamily', 'osVersion', 'defaultUser', 'firmware', 'sha256'] as const) {
    const value = fields[key]?.trim();
    if (value) params.set(key, value);
  }
  return `/images/upload?${params}`;
}

const CODES: readonly ErrorCode[] = ['UNAUTHENTICATED', 'FORBIDDEN', 'NOT_FOUND', 'BAD_INPUT', 'CONFLICT', 'RATE_LIMITED', 'UNAVAILABLE', 'INTERNAL'];

/** What a refused upload's answer says (`{"code", "message", "field"}`), or the HTTP status says. */
export function uploadProblem(status: number, body: string): ApiProblem {
  try {
    const parsed = JSON.parse(body) as { code?: unknown; message?: unknown; field?: unknown; policy?: unknown };
    if (parsed && typeof parsed.message === 'string' && parsed.message) {
      const code = typeof parsed.code === 'string' && (CODES as readonly string[]).includes(parsed.code) ? (parsed.code as ErrorCode) : codeOf(status);
      return {
        code,
        message: parsed.message,
        field: typeof parsed.field === 'string' ? parsed.field : undefined,
        policy: typeof parsed.policy === 'string' ? parsed.policy : undefined,
      };
    }
  } catch {
    // not JSON: a proxy's page, say
  }
  if (status === 413) return { code: 'BAD_INPUT', message: 'The file is larger than the server accepts.' };
  const text = body.trim();
  return { code: codeOf(status), message: text && text.length <= 300 && !text.startsWith('<') ? text : `The upload failed (HTTP ${status}).` };
}

function codeOf(status: number): ErrorCode {
  if (status === 400 || status === 413 || status === 422) return 'BAD_INPUT';
  if (status === 401) return 'UNAUTHENTICATED';
  if (status === 403) return 'FORBIDDEN';
  if (status === 404) return 'NOT_FOUND';
  if (status === 409) return 'CONFLICT';
  if (status === 429) return 'RATE_LIMITED';
  if (status === 503) return 'UNAVAILABLE';
  return 'INTERNAL';
}

export interface UploadProgress {
  sent: number;
  total: number;
  /** Every byte is sent: the server is storing and verifying the file. */
  verifying: boolean;
}

export type UploadOutcome =
  | { ok: true; id: string; status: string }
  | { ok: false; cancelled: boolean; problem: ApiProblem | null };

export interface UploadHandle {
  done: Promise<UploadOutcome>;
  cancel(): void;
}

/** Sends `file` as image `fields.name`; `onProgress` hears of every chunk sent. */
export function uploadImage(file: Blob, fields: UploadFields, onProgress: (progress: UploadProgress) => void): UploadHandle {
  const xhr = new XMLHttpRequest();
  const done = new Promise<UploadOutcome>((resolve) => {
    xhr.open('POST', uploadUrl(fields));
    xhr.setRequestHeader('content-type', 'application/octet-stream');
    xhr.setRequestHeader('accept', 'application/json');
    xhr.upload.onprogress = (event) => {
      const total = event.lengthComputable ? event.total : file.size;
      onProgress({ sent: event.loaded, total, verifying: total > 0 && event.loaded >= total });
    };
    xhr.upload.onload = () => onProgress({ sent: file.size, total: file.size, verifying: true });
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        try {
          const answer = JSON.parse(xhr.responseText) as { id?: unknown; status?: unknown };
          if (typeof answer.id === 'string') {
            resolve({ ok: true, id: answer.id, status: typeof answer.status === 'string' ? answer.status : 'READY' });
            return;
          }
        } catch {
          // fall through
        }
        resolve({ ok: false, cancelled: false, problem: { code: 'INTERNAL', message: 'The server accepted the upload but sent no image id.' } });
        return;
      }
      resolve({ ok: false, cancelled: false, problem: uploadProblem(xhr.status, xhr.responseText) });
    };
    xhr.onerror = () => resolve({ ok: false, cancelled: false, problem: UNREACHABLE });
    xhr.onabort = () => resolve({ ok: false, cancelled: true, problem: null });
    // The browser sets Content-Length from the Blob and streams it from disk.
    xhr.send(file);
  });
  return { done, cancel: () => xhr.abort() };
}

interface Sample {
  at: number;
  bytes: number;
}

/** The samples of the last `windowMs` with `sample` added, for `rateOf`. */
export function addSample(samples: readonly Sample[], sample: Sample, windowMs = 3_000): Sample[] {
  const kept = samples.filter((s) => s.at >= sample.at - windowMs);
  return [...kept, sample];
}

/** Bytes per second across the samples (0 until there are two a moment apart). */
export function rateOf(samples: readonly Sample[]): number {
  if (samples.length < 2) return 0;
  const first = samples[0];
  const last = samples[samples.length - 1];
  const seconds = (last.at - first.at) / 1000;
  return seconds > 0.2 ? Math.max(0, (last.bytes - first.bytes) / seconds) : 0;
}

const NAME_MAX = 64;
const DISK_SUFFIXES = /\.(qcow2|qcow|img|raw|vmdk|vhdx|vhd|vdi|iso|xz|gz|bz2|zst)$/i;

/** A name for an image from its file name or URL: the last path segment, disk extensions dropped. */
export function nameFromFile(fileOrUrl: string): string {
  let last = fileOrUrl.trim().split(/[?#]/)[0].split(/[\\/]/).filter(Boolean).pop() ?? '';
  try {
    last = decodeURIComponent(last);
  } catch {
    // keep it as written
  }
  let name = last;
  while (DISK_SUFFIXES.test(name)) name = name.replace(DISK_SUFFIXES, '');
  return [...(name || last)].slice(0, NAME_MAX).join('');
}
