// What a usage report's rows measure, how each reads, and the orderings and bar widths the
// page draws them with.
import { formatHours, formatMinutes, formatQuantity, formatSeconds } from '../format';
import type { UsageRowFieldsFragment } from '../gql/graphql';

export type UsageRow = UsageRowFieldsFragment;

/** The measures a bar chart can show. */
export type Measure = 'runningHours' | 'vcpuHours' | 'memoryGibHours' | 'cpuSeconds' | 'consoleMinutes';

export const MEASURES: Record<Measure, { label: string; format(value: number): string }> = {
  runningHours: { label: 'Running hours', format: formatHours },
  vcpuHours: { label: 'vCPU-hours', format: (value) => formatQuantity(value, 'vCPU·h') },
  memoryGibHours: { label: 'GiB-hours', format: (value) => formatQuantity(value, 'GiB·h') },
  cpuSeconds: { label: 'CPU time', format: formatSeconds },
  consoleMinutes: { label: 'Console minutes', format: formatMinutes },
};

export const DEFAULT_MEASURE: Measure = 'vcpuHours';

export interface Bar {
  key: string;
  label: string;
  value: number;
  /** Of the widest bar: the largest value is 1, and with nothing used every bar is 0. */
  share: number;
}

/** The rows as bars of `measure`, largest first. */
export function bars(rows: readonly UsageRow[], measure: Measure): Bar[] {
  const largest = Math.max(0, ...rows.map((row) => row[measure]));
  return rows
    .map((row) => ({ key: row.key, label: row.label, value: row[measure], share: largest > 0 ? row[measure] / largest : 0 }))
    .sort((a, b) => b.value - a.value || a.label.localeCompare(b.label));
}

/** The columns a table can be ordered by. */
export type SortKey = 'label' | Measure | 'consoleSessions';

export interface Sort {
  key: SortKey;
  descending: boolean;
}

export function sortRows(rows: readonly UsageRow[], { key, descending }: Sort): UsageRow[] {
  const sign = descending ? -1 : 1;
  return [...rows].sort((a, b) => {
    const order = key === 'label' ? a.label.localeCompare(b.label) : a[key] - b[key];
    return sign * order || a.label.localeCompare(b.label);
  });
}

/** A header clicked: the same column turns around; a new one starts with names A–Z, numbers largest first. */
export function nextSort(current: Sort | null, key: SortKey): Sort {
  if (current?.key === key) return { key, descending: !current.descending };
  return { key, descending: key !== 'label' };
}
