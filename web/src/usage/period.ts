// A usage report's settings: the period (a preset or from/to), the moment it is seen from, and
// the grouping. They live in the page's address, so a report can be linked and reloaded; the
// form edits them as local times.
import { localInputFromUtc, utcFromLocalInput } from '../format';
import type { UsageGroup } from '../gql/graphql';

export type Preset = '24h' | '7d' | '30d' | 'this-month' | 'last-month';

export const PRESETS: { id: Preset; label: string }[] = [
  { id: '24h', label: 'Last 24 hours' },
  { id: '7d', label: 'Last 7 days' },
  { id: '30d', label: 'Last 30 days' },
  { id: 'this-month', label: 'This month' },
  { id: 'last-month', label: 'Last month' },
];

export const GROUPS: { id: UsageGroup; label: string }[] = [
  { id: 'VM', label: 'VM' },
  { id: 'ACCOUNT', label: 'Account' },
  { id: 'CREDENTIAL', label: 'Credential' },
];

export interface Period {
  from: Date;
  to: Date;
}

/**
 * The preset's period at `now`. Days and months are counted on the local calendar, so "Last
 * month" starts and ends at local midnights even when a daylight saving change falls inside.
 */
export function presetPeriod(preset: Preset, now: Date): Period {
  const year = now.getFullYear();
  const month = now.getMonth();
  switch (preset) {
    case '24h':
      return { from: new Date(now.getTime() - 86_400_000), to: now };
    case '7d':
      return { from: daysBefore(now, 7), to: now };
    case '30d':
      return { from: daysBefore(now, 30), to: now };
    case 'this-month':
      return { from: new Date(year, month, 1), to: now };
    case 'last-month':
      return { from: new Date(year, month - 1, 1), to: new Date(year, month, 1) };
  }
}

export function isoPeriod({ from, to }: Period): { from: string; to: string } {
  return { from: from.toISOString(), to: to.toISOString() };
}

/** The same local time of day, `days` calendar days earlier. */
function daysBefore(date: Date, days: number): Date {
  const earlier = new Date(date);
  earlier.setDate(earlier.getDate() - days);
  return earlier;
}

export interface ReportSettings {
  /** A preset is counted back from the moment the report is shown; from/to are fixed (RFC 3339). */
  period: { preset: Preset } | { from: string; to: string };
  /** RFC 3339; null for now. */
  asOf: string | null;
  groupBy: UsageGroup;
}

export const DEFAULT_SETTINGS: ReportSettings = { period: { preset: '7d' }, asOf: null, groupBy: 'VM' };

function time(value: string | null): string | null {
  const date = new Date(value ?? '');
  return value && !Number.isNaN(date.getTime()) ? date.toISOString() : null;
}

/** The settings an address holds; whatever is missing or unreadable is the default. */
export function settingsFromQuery(query: URLSearchParams): ReportSettings {
  const from = time(query.get('from'));
  const to = time(query.get('to'));
  const preset = PRESETS.find((p) => p.id === query.get('period'))?.id;
  const group = GROUPS.find((g) => g.id === query.get('group')?.toUpperCase())?.id;
  return {
    period: from && to ? { from, to } : preset ? { preset } : DEFAULT_SETTINGS.period,
    asOf: time(query.get('asOf')),
    groupBy: group ?? DEFAULT_SETTINGS.groupBy,
  };
}

export function queryFromSettings(settings: ReportSettings): URLSearchParams {
  const query = new URLSearchParams();
  if ('preset' in settings.period) query.set('period', settings.period.preset);
  else {
    query.set('from', settings.period.from);
    query.set('to', settings.period.to);
  }
  if (settings.asOf) query.set('asOf', settings.asOf);
  query.set('group', settings.groupBy.toLowerCase());
  return query;
}

/** What `usageReport` and the export are asked for at `now`. */
export function reportVariables(settings: ReportSettings, now: Date) {
  const { period } = settings;
  const { from, to } = 'preset' in period ? isoPeriod(presetPeriod(period.preset, now)) : period;
  return { from, to, groupBy: settings.groupBy, asOf: settings.asOf };
}

export type ReportVariables = ReturnType<typeof reportVariables>;

/** The CSV export's address for the same report. */
export function usageExportUrl(variables: ReportVariables): string {
  const query = new URLSearchParams({ from: variables.from, to: variables.to, groupBy: variables.groupBy.toLowerCase() });
  if (variables.asOf) query.set('asOf', variables.asOf);
  return `/usage/export?${query}`;
}

/** The form's values: local times for the inputs, 'custom' for a from/to period. */
export interface ReportDraft {
  period: Preset | 'custom';
  from: string;
  to: string;
  asOf: string;
  groupBy: UsageGroup;
}

/** The form for `settings`; a preset's from/to are filled in as shown, ready to be adjusted. */
export function draftOf(settings: ReportSettings, shown: ReportVariables): ReportDraft {
  return {
    period: 'preset' in settings.period ? settings.period.preset : 'custom',
    from: localInputFromUtc(shown.from),
    to: localInputFromUtc(shown.to),
    asOf: localInputFromUtc(settings.asOf),
    groupBy: settings.groupBy,
  };
}

export function settingsOf(draft: ReportDraft): ReportSettings {
  const from = utcFromLocalInput(draft.from);
  const to = utcFromLocalInput(draft.to);
  return {
    period: draft.period !== 'custom' ? { preset: draft.period } : from && to ? { from, to } : DEFAULT_SETTINGS.period,
    asOf: utcFromLocalInput(draft.asOf),
    groupBy: draft.groupBy,
  };
}
