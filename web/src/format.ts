// How numbers, sizes, times and states read on screen.
import type { VmState } from './gql/graphql';

export function formatMib(mib: number): string {
  if (mib >= 1024 * 1024) return `${trim(mib / (1024 * 1024))} TiB`;
  if (mib >= 1024) return `${trim(mib / 1024)} GiB`;
  return `${Math.round(mib)} MiB`;
}

/** A share in percent, one decimal below 10 (`4.2 %`, `37 %`). */
export function formatPercent(value: number): string {
  return `${value.toFixed(value >= 10 ? 0 : 1)} %`;
}

export function formatGib(gib: number): string {
  return gib >= 1024 ? `${trim(gib / 1024)} TiB` : `${trim(gib)} GiB`;
}

function trim(n: number): string {
  return n.toFixed(n >= 100 || Number.isInteger(n) ? 0 : 1);
}

const BYTE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** 1536 → "1.5 KiB": the largest unit that keeps the number at or above 1. */
export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < BYTE_UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${Math.round(value)} B` : `${trim(value)} ${BYTE_UNITS[unit]}`;
}

/** A transfer rate in bytes per second: "2.5 MiB/s". */
export function formatRate(bytesPerSecond: number): string {
  return `${formatBytes(Math.max(0, bytesPerSecond))}/s`;
}

/** A duration to wait, roughly: "40 s", "3 min", "1 h 5 min". */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  const minutes = Math.round(s / 60);
  if (minutes < 60) return `${minutes} min`;
  const rest = minutes % 60;
  return rest ? `${Math.floor(minutes / 60)} h ${rest} min` : `${minutes / 60} h`;
}

/**
 * A quantity to one decimal with its unit: "12.5 h". A little that would round to 0.0 reads
 * "< 0.1", so a short use is not mistaken for none.
 */
export function formatQuantity(value: number, unit: string): string {
  if (value > 0 && value < 0.05) return `< 0.1 ${unit}`;
  return `${value.toFixed(1)} ${unit}`;
}

export function formatHours(hours: number): string {
  return formatQuantity(hours, 'h');
}

export function formatMinutes(minutes: number): string {
  return formatQuantity(minutes, 'min');
}

/** CPU time: seconds while short, then minutes, then hours. */
export function formatSeconds(seconds: number): string {
  if (seconds < 60) return formatQuantity(seconds, 's');
  if (seconds < 3600) return formatMinutes(seconds / 60);
  return formatHours(seconds / 3600);
}

export function formatTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
}

/** The day only, for lists where the time would crowd the row (the title can carry it). */
export function formatDate(iso: string | null | undefined): string {
  if (!iso) return '—';
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleDateString();
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

/** RFC 3339 → a `datetime-local` input value in local time (to the minute), or '' for none. */
export function localInputFromUtc(iso: string | null | undefined): string {
  const date = new Date(iso ?? '');
  if (Number.isNaN(date.getTime())) return '';
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}
