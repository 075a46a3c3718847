// Image imports in progress, as `imageProgress` reports them: the latest update per image, kept
// until the list shows the import's outcome, and how an update reads on screen.
import { formatBytes, formatDuration, formatRate } from '../format';
import type { ImageProgressSubscription, ImageStatus, ImportPhase } from '../gql/graphql';

export type ImageProgress = ImageProgressSubscription['imageProgress'];
export type ProgressById = ReadonlyMap<string, ImageProgress>;

const PHASE_LABELS: Record<ImportPhase, string> = {
  DOWNLOADING: 'Downloading',
  UPLOADING: 'Uploading',
  VERIFYING: 'Verifying',
  CONVERTING: 'Converting',
  READY: 'Ready',
  FAILED: 'Failed',
};

export function phaseLabel(phase: ImportPhase): string {
  return PHASE_LABELS[phase] ?? phase;
}

/** Whether the import is over: its outcome is in the image list (once the list is read again). */
export function isFinal(phase: ImportPhase): boolean {
  return phase === 'READY' || phase === 'FAILED';
}

/** The share of the work done (0–1), or null when the total is not known (an indeterminate bar). */
export function progressShare(bytes: number, total: number | null | undefined): number | null {
  if (!total || total <= 0) return null;
  return Math.min(1, Math.max(0, bytes / total));
}

/** Seconds until `total` at `rate`, or null when either is unknown. */
export function secondsLeft(bytes: number, total: number | null | undefined, rate: number): number | null {
  if (!total || total <= 0 || !(rate > 0) || bytes >= total) return null;
  return (total - bytes) / rate;
}

/**
 * One line for an import's progress: "Downloading 12 MiB of 300 MiB (4 %) · 2.5 MiB/s · about
 * 2 min left". Without a total it says how much so far; once over, only the phase (and why it
 * failed).
 */
export function progressText({ phase, bytes, total, rate, error }: Pick<ImageProgress, 'phase' | 'bytes' | 'total' | 'rate'> & { error?: string | null }): string {
  const label = phaseLabel(phase);
  if (phase === 'FAILED') return error ? `${label}: ${error}` : label;
  if (phase === 'READY') return label;
  const share = progressShare(bytes, total);
  const parts: string[] = [];
  if (share !== null && total) parts.push(`${label} ${formatBytes(bytes)} of ${formatBytes(total)} (${Math.floor(share * 100)} %)`);
  else if (bytes > 0) parts.push(`${label} ${formatBytes(bytes)}`);
  else parts.push(`${label}…`);
  if (rate > 0) parts.push(formatRate(rate));
  const left = secondsLeft(bytes, total, rate);
  if (left !== null && left >= 1) parts.push(`about ${formatDuration(left)} left`);
  return parts.join(' · ');
}

/** The progress with `update` as the latest word on its image. */
export function applyProgress(progress: ProgressById, update: ImageProgress): ProgressById {
  const next = new Map(progress);
  next.set(update.imageId, update);
  return next;
}

interface Listed {
  id: string;
  status: ImageStatus;
}

/** Drops the progress of images the list shows as no longer importing: the list has the outcome. */
export function pruneProgress(progress: ProgressById, images: readonly Listed[]): ProgressById {
  const status = new Map(images.map((image) => [image.id, image.status]));
  let next: Map<string, ImageProgress> | null = null;
  for (const id of progress.keys()) {
    const listed = status.get(id);
    if (listed !== undefined && listed !== 'IMPORTING') {
      next ??= new Map(progress);
      next.delete(id);
    }
  }
  return next ?? progress;
}

/**
 * Whether the list is behind the progress: an import it does not show yet (started elsewhere),
 * or one that is over while the list still says importing.
 */
export function listIsBehind(progress: ProgressById, images: readonly Listed[]): boolean {
  const status = new Map(images.map((image) => [image.id, image.status]));
  for (const [id, update] of progress) {
    const listed = status.get(id);
    if (listed === undefined || (listed === 'IMPORTING' && isFinal(update.phase))) return true;
  }
  return false;
}
