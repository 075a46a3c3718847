// The image upload under way, if any. It lives outside the Images screen so leaving the screen
// does not lose it: coming back shows how far it got. Closing or reloading the tab would end it,
// so the browser asks first while bytes are still being sent.
import { useSyncExternalStore } from 'react';
import type { ApiProblem } from '../api/errors';
import { addSample, rateOf, uploadImage, type UploadFields, type UploadHandle, type UploadOutcome } from '../api/upload';

export type UploadStage = 'sending' | 'verifying' | 'done' | 'failed' | 'cancelled';

export interface UploadState {
  name: string;
  fileName: string;
  sent: number;
  total: number;
  /** Bytes per second over the last few seconds. */
  rate: number;
  stage: UploadStage;
  problem: ApiProblem | null;
  /** The image's id, once the server stored it. */
  imageId: string | null;
}

let state: UploadState | null = null;
let handle: UploadHandle | null = null;
const listeners = new Set<() => void>();

function set(next: UploadState | null) {
  state = next;
  const sending = next?.stage === 'sending' || next?.stage === 'verifying';
  if (sending) window.addEventListener('beforeunload', holdTheTab);
  else window.removeEventListener('beforeunload', holdTheTab);
  for (const listener of listeners) listener();
}

function holdTheTab(event: BeforeUnloadEvent) {
  event.preventDefault();
  // Older browsers ask only when this is set.
  event.returnValue = '';
}

function subscribe(listener: () => void) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** The current upload as a React value. */
export function useImageUpload(): UploadState | null {
  return useSyncExternalStore(subscribe, () => state, () => null);
}

/** Whether an upload is still sending or being verified (only one at a time). */
export function uploading(): boolean {
  return state?.stage === 'sending' || state?.stage === 'verifying';
}

/** Starts uploading `file`; answers once it is over, however it ended. */
export async function startUpload(file: File, fields: UploadFields): Promise<UploadState> {
  if (uploading()) throw new Error('an upload is already under way');
  let samples = [{ at: performance.now(), bytes: 0 }];
  set({ name: fields.name.trim(), fileName: fields.fileName, sent: 0, total: file.size, rate: 0, stage: 'sending', problem: null, imageId: null });
  const mine = uploadImage(file, fields, ({ sent, total, verifying }) => {
    if (handle !== mine || !state) return;
    samples = addSample(samples, { at: performance.now(), bytes: sent });
    set({ ...state, sent, total, rate: verifying ? 0 : rateOf(samples), stage: verifying ? 'verifying' : 'sending' });
  });
  handle = mine;
  const outcome = await mine.done.catch(
    (error: unknown): UploadOutcome => ({ ok: false, cancelled: false, problem: { code: 'INTERNAL', message: `The upload could not start: ${String(error)}` } }),
  );
  if (handle === mine) handle = null;
  const base = state!;
  if (outcome.ok) set({ ...base, sent: base.total, rate: 0, stage: 'done', imageId: outcome.id });
  else set({ ...base, rate: 0, stage: outcome.cancelled ? 'cancelled' : 'failed', problem: outcome.problem });
  return state!;
}

/** Stops the upload under way; the server drops what it received. */
export function cancelUpload(): void {
  handle?.cancel();
}

/** Forgets a finished upload (its outcome has been seen). */
export function dismissUpload(): void {
  if (!uploading()) set(null);
}
