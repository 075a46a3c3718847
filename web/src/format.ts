// How numbers, sizes, times and states read on screen.
import type { VmState } from './gql/graphql';

export function formatMib(mib: number): string {
  if (mib >= 1024 * 1024) return `${trim(mib / (1024 * 1024))} TiB`;
  if (mib >= 1024) return `${trim(mib / 1024)} GiB`;
  return `${mib} MiB`;
}

export function formatGib(gib: number): string {
  return gib >= 1024 ? `${trim(gib / 1024)} TiB` : `${trim(gib)} GiB`;
}

function trim(n: number): string {
  return n.toFixed(n >= 100 || Number.isInteger(n) ? 0 : 1);
}

export function formatTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
}

/** "in 5 minutes", "3 hours ago": for expiries and last use. */
export function relativeTime(iso: string, now: number = Date.now()): string {
  const seconds = Math.round((new Date(iso).getTime() - now) / 1000);
  const units: [Intl.RelativeTimeFormatUnit, number][] = [
    ['day', 86_400],
    ['hour', 3_600],
    ['minute', 60],
    ['second', 1],
  ];
  const format = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
  for (const [unit, size] of units) {
    if (Math.abs(seconds) >= size || unit === 'second') return format.format(Math.round(seconds / size), unit);
  }
  return format.format(0, 'second');
}

const STATE_LABELS: Record<VmState, string> = {
  PENDING: 'Pending',
  STOPPED: 'Stopped',
  STARTING: 'Starting',
  RUNNING: 'Running',
  PAUSED: 'Paused',
  STOPPING: 'Stopping',
  CRASHED: 'Crashed',
  FAILED: 'Failed',
  DELETED: 'Deleted',
};

export function stateLabel(state: VmState): string {
  return STATE_LABELS[state] ?? state;
}

/** Percent of `part` in `whole`, clamped to 0–100. */
export function percent(part: number, whole: number): number {
  if (!(whole > 0)) return 0;
  return Math.min(100, Math.max(0, (part / whole) * 100));
}

/** `datetime-local` input value → RFC 3339 in UTC, or null for none. */
export function utcFromLocalInput(value: string): string | null {
  if (!value) return null;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}
