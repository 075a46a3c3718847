// A usage report as a table: one row per VM, account or credential, the totals below, ordered
// by the column header last clicked. Paired measures (memory average and peak, disk read and
// write, network in and out) share a column, one above the other, so every column fits a
// dashboard's width; a narrower one scrolls the table in its box, the names staying in view.
import { useMemo, useState } from 'react';
import { Link } from 'react-router-dom';
import { formatBytes, formatHours, formatMib, formatMinutes, formatSeconds } from '../format';
import type { UsageGroup } from '../gql/graphql';
import { MEASURES, nextSort, sortRows, type Sort, type SortKey, type UsageRow } from './measures';

const NAME_HEADER: Record<UsageGroup, string> = { VM: 'VM', ACCOUNT: 'Account', CREDENTIAL: 'Credential' };

const memory = (mib: number | null | undefined) => (mib == null ? '—' : formatMib(mib));

function Pair({ first, second }: { first: string; second: string }) {
  return (
    <span className="pair">
      <span>{first}</span>
      <span className="visually-hidden"> / </span>
      <span>{second}</span>
    </span>
  );
}

function Cells({ row }: { row: UsageRow }) {
  return (
    <>
      <td className="num" data-label="Running">{formatHours(row.runningHours)}</td>
      <td className="num" data-label="vCPU-hours">{MEASURES.vcpuHours.format(row.vcpuHours)}</td>
      <td className="num" data-label="GiB-hours">{MEASURES.memoryGibHours.format(row.memoryGibHours)}</td>
      <td className="num" data-label="CPU time">{formatSeconds(row.cpuSeconds)}</td>
      <td className="num" data-label="Memory avg / peak">
        <Pair first={memory(row.memoryAvgMib)} second={memory(row.memoryPeakMib)} />
      </td>
      <td className="num" data-label="Disk read / write">
        <Pair first={formatBytes(row.diskReadBytes)} second={formatBytes(row.diskWriteBytes)} />
      </td>
      <td className="num" data-label="Network in / out">
        <Pair first={formatBytes(row.netRxBytes)} second={formatBytes(row.netTxBytes)} />
      </td>
      <td className="num" data-label="Console sessions">{row.consoleSessions}</td>
      <td className="num" data-label="Console time">{formatMinutes(row.consoleMinutes)}</td>
    </>
  );
}

function SortHeader({ label, column, sort, onSort }: { label: string; column: SortKey; sort: Sort | null; onSort(key: SortKey): void }) {
  const current = sort?.key === column;
  return (
    <th scope="col" aria-sort={current ? (sort.descending ? 'descending' : 'ascending') : undefined}>
      <button type="button" className="sort" onClick={() => onSort(column)}>
        {label}
        <span aria-hidden="true">{current ? (sort.descending ? ' ▾' : ' ▴') : ''}</span>
      </button>
    </th>
  );
}

export function UsageTable({ groupBy, rows, totals }: { groupBy: UsageGroup; rows: readonly UsageRow[]; totals: UsageRow }) {
  const [sort, setSort] = useState<Sort | null>(null);
  const shown = useMemo(() => (sort ? sortRows(rows, sort) : rows), [rows, sort]);
  const header = (label: string, column: SortKey) => <SortHeader label={label} column={column} sort={sort} onSort={(key) => setSort(nextSort(sort, key))} />;
  return (
    <div className="table-wrap">
      <table className="vm-table compact usage-table">
        <thead>
          <tr>
            {header(NAME_HEADER[groupBy], 'label')}
            {header('Running', 'runningHours')}
            {header('vCPU-hours', 'vcpuHours')}
            {header('GiB-hours', 'memoryGibHours')}
            {header('CPU time', 'cpuSeconds')}
            <th scope="col">Memory avg / peak</th>
            <th scope="col">Disk read / write</th>
            <th scope="col">Network in / out</th>
            {header('Console sessions', 'consoleSessions')}
            {header('Console time', 'consoleMinutes')}
          </tr>
        </thead>
        <tbody>
          {shown.map((row) => (
            <tr key={row.key} data-key={row.key} data-running-hours={row.runningHours} data-console-sessions={row.consoleSessions}>
              <th scope="row">{groupBy === 'VM' ? <Link to={`/vms/${row.key}`}>{row.label}</Link> : row.label}</th>
              <Cells row={row} />
            </tr>
          ))}
        </tbody>
        <tfoot>
          <tr data-key={totals.key}>
            <th scope="row">Total</th>
            <Cells row={totals} />
          </tr>
        </tfoot>
      </table>
    </div>
  );
}
