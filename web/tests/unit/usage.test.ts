import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attachmentName } from '../../src/api/download';
import { formatBytes, formatHours, formatMinutes, formatSeconds, localInputFromUtc, utcFromLocalInput } from '../../src/format';
import { bars, nextSort, sortRows, type UsageRow } from '../../src/usage/measures';
import {
  DEFAULT_SETTINGS,
  draftOf,
  presetPeriod,
  queryFromSettings,
  reportVariables,
  settingsFromQuery,
  settingsOf,
  usageExportUrl,
  type ReportSettings,
} from '../../src/usage/period';

function row(key: string, over: Partial<UsageRow> = {}): UsageRow {
  return {
    key,
    label: `vm-${key}`,
    runningHours: 0,
    vcpuHours: 0,
    memoryGibHours: 0,
    cpuSeconds: 0,
    memoryAvgMib: null,
    memoryPeakMib: null,
    diskReadBytes: 0,
    diskWriteBytes: 0,
    netRxBytes: 0,
    netTxBytes: 0,
    consoleSessions: 0,
    consoleMinutes: 0,
    ...over,
  };
}

describe('report periods', () => {
  // Berlin moves its clocks on 29 March and 25 October 2026: the presets count local days.
  const zone = process.env.TZ;
  beforeAll(() => {
    process.env.TZ = 'Europe/Berlin';
  });
  afterAll(() => {
    if (zone === undefined) delete process.env.TZ;
    else process.env.TZ = zone;
  });
  const hours = ({ from, to }: { from: Date; to: Date }) => (to.getTime() - from.getTime()) / 3_600_000;

  it('runs in the zone the test set', () => {
    expect(new Date('2026-01-15T12:00:00Z').getTimezoneOffset()).toBe(-60);
    expect(new Date('2026-07-15T12:00:00Z').getTimezoneOffset()).toBe(-120);
  });

  it('takes last month from its first local midnight to this month’s', () => {
    const period = presetPeriod('last-month', new Date(2026, 2, 15, 10, 30));
    expect(period.from).toEqual(new Date(2026, 1, 1));
    expect(period.to).toEqual(new Date(2026, 2, 1));
    expect(period.from.toISOString()).toBe('2026-01-31T23:00:00.000Z');
    expect(period.to.toISOString()).toBe('2026-02-28T23:00:00.000Z');
  });

  it('keeps month boundaries at local midnight across a clock change and a new year', () => {
    const march = presetPeriod('last-month', new Date(2026, 3, 15, 12));
    expect(march.from.toISOString()).toBe('2026-02-28T23:00:00.000Z');
    expect(march.to.toISOString()).toBe('2026-03-31T22:00:00.000Z');
    expect(hours(march)).toBe(31 * 24 - 1);
    const december = presetPeriod('last-month', new Date(2026, 0, 10));
    expect(december.from).toEqual(new Date(2025, 11, 1));
    expect(december.to).toEqual(new Date(2026, 0, 1));
    expect(presetPeriod('this-month', new Date(2026, 2, 30, 12)).from.toISOString()).toBe('2026-02-28T23:00:00.000Z');
  });

  it('counts days on the calendar, hours on the clock', () => {
    const now = new Date(2026, 3, 2, 12); // after the change
    const week = presetPeriod('7d', now);
    expect(week.from).toEqual(new Date(2026, 2, 26, 12));
    expect(hours(week)).toBe(7 * 24 - 1);
    expect(presetPeriod('30d', now).from).toEqual(new Date(2026, 2, 3, 12));
    const day = presetPeriod('24h', new Date(2026, 2, 29, 12));
    expect(hours(day)).toBe(24);
    expect(day.to).toEqual(new Date(2026, 2, 29, 12));
  });
});

describe('report settings in the address', () => {
  const cases: ReportSettings[] = [
    DEFAULT_SETTINGS,
    { period: { preset: 'last-month' }, asOf: null, groupBy: 'ACCOUNT' },
    { period: { preset: '24h' }, asOf: '2026-03-01T08:00:00.000Z', groupBy: 'CREDENTIAL' },
    { period: { from: '2026-02-01T00:00:00.000Z', to: '2026-02-02T12:30:00.000Z' }, asOf: null, groupBy: 'VM' },
  ];

  it('reads back what it wrote', () => {
    for (const settings of cases) {
      const query = queryFromSettings(settings);
      expect(settingsFromQuery(new URLSearchParams(query.toString()))).toEqual(settings);
    }
    expect(queryFromSettings(cases[1]).toString()).toBe('period=last-month&group=account');
  });

  it('falls back to the defaults for what is missing or unreadable', () => {
    expect(settingsFromQuery(new URLSearchParams(''))).toEqual(DEFAULT_SETTINGS);
    expect(settingsFromQuery(new URLSearchParams('period=forever&group=planet&asOf=soon&from=2026-01-01T00:00:00Z'))).toEqual(DEFAULT_SETTINGS);
  });

  it('asks for a preset counted back from now, and exports the same report', () => {
    const now = new Date('2026-03-15T12:00:00Z');
    const variables = reportVariables({ period: { preset: '24h' }, asOf: '2026-03-15T06:00:00.000Z', groupBy: 'CREDENTIAL' }, now);
    expect(variables).toEqual({ from: '2026-03-14T12:00:00.000Z', to: '2026-03-15T12:00:00.000Z', groupBy: 'CREDENTIAL', asOf: '2026-03-15T06:00:00.000Z' });
    const url = new URL(usageExportUrl(variables), 'https://distribox.example');
    expect(url.pathname).toBe('/usage/export');
    expect(Object.fromEntries(url.searchParams)).toEqual({
      from: '2026-03-14T12:00:00.000Z',
      to: '2026-03-15T12:00:00.000Z',
      groupBy: 'credential',
      asOf: '2026-03-15T06:00:00.000Z',
    });
    expect(new URL(usageExportUrl({ ...variables, asOf: null }), 'https://x').searchParams.has('asOf')).toBe(false);
  });

  it('edits a report in local time and gives back the same settings', () => {
    const custom = cases[3];
    const draft = draftOf(custom, reportVariables(custom, new Date()));
    expect(draft).toMatchObject({ period: 'custom', from: localInputFromUtc('2026-02-01T00:00:00.000Z'), asOf: '' });
    expect(settingsOf(draft)).toEqual(custom);
    const preset = cases[2];
    const shown = reportVariables(preset, new Date('2026-03-15T12:00:00Z'));
    const presetDraft = draftOf(preset, shown);
    expect(presetDraft.period).toBe('24h');
    // Switching to custom starts from the period shown.
    expect(settingsOf({ ...presetDraft, period: 'custom' }).period).toEqual({ from: shown.from, to: shown.to });
    expect(settingsOf(presetDraft)).toEqual(preset);
  });

  it('turns local input values into UTC and back', () => {
    expect(localInputFromUtc(null)).toBe('');
    expect(localInputFromUtc('nonsense')).toBe('');
    const iso = '2026-10-25T01:30:00.000Z';
    expect(utcFromLocalInput(localInputFromUtc(iso))).toBe(iso);
  });
});

describe('usage as it reads', () => {
  it('writes bytes in binary units', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1023)).toBe('1023 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(300 * 1024 ** 2)).toBe('300 MiB');
    expect(formatBytes(5 * 1024 ** 3)).toBe('5 GiB');
    expect(formatBytes(2.25 * 1024 ** 4)).toBe('2.3 TiB');
  });

  it('writes hours and minutes to one decimal, and a little as a little', () => {
    expect(formatHours(12.34)).toBe('12.3 h');
    expect(formatHours(0)).toBe('0.0 h');
    expect(formatHours(0.01)).toBe('< 0.1 h');
    expect(formatMinutes(2.26)).toBe('2.3 min');
    expect(formatSeconds(42)).toBe('42.0 s');
    expect(formatSeconds(150)).toBe('2.5 min');
    expect(formatSeconds(5400)).toBe('1.5 h');
  });

  it('takes the export’s file name from the server', () => {
    expect(attachmentName('attachment; filename="distribox-usage-2026-03.csv"')).toBe('distribox-usage-2026-03.csv');
    expect(attachmentName('attachment; filename=plain.csv')).toBe('plain.csv');
    expect(attachmentName('attachment')).toBeNull();
    expect(attachmentName(null)).toBeNull();
  });
});

describe('usage bars and ordering', () => {
  it('draws the largest row full width and the rest in proportion, largest first', () => {
    const shown = bars([row('a', { vcpuHours: 2 }), row('b', { vcpuHours: 8 }), row('c', { vcpuHours: 0 })], 'vcpuHours');
    expect(shown.map((bar) => [bar.key, bar.share])).toEqual([
      ['b', 1],
      ['a', 0.25],
      ['c', 0],
    ]);
  });

  it('draws nothing for no rows, and empty bars when nothing was used', () => {
    expect(bars([], 'runningHours')).toEqual([]);
    expect(bars([row('a'), row('b')], 'consoleMinutes').map((bar) => bar.share)).toEqual([0, 0]);
  });

  it('orders by a clicked column, turning around on a second click', () => {
    const rows = [row('a', { label: 'beta', cpuSeconds: 5 }), row('b', { label: 'alpha', cpuSeconds: 9 }), row('c', { label: 'gamma', cpuSeconds: 1 })];
    const byCpu = nextSort(null, 'cpuSeconds');
    expect(byCpu).toEqual({ key: 'cpuSeconds', descending: true });
    expect(sortRows(rows, byCpu).map((r) => r.key)).toEqual(['b', 'a', 'c']);
    expect(sortRows(rows, nextSort(byCpu, 'cpuSeconds')).map((r) => r.key)).toEqual(['c', 'a', 'b']);
    expect(sortRows(rows, nextSort(byCpu, 'label')).map((r) => r.label)).toEqual(['alpha', 'beta', 'gamma']);
  });
});
