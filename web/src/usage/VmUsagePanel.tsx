// A VM's usage over the last hour, day, week or month: CPU, memory, disk and network as line
// charts, moving with the clock. Loaded on demand by the VM's page, uPlot with it.
import { useMemo, useState } from 'react';
import { useQuery } from 'urql';
import { describe, problemOf } from '../api/errors';
import { VmUsageQuery } from '../api/operations';
import { FormError } from '../components/FormError';
import { useVisibleInterval } from '../live/useVisibleInterval';
import { MIB_SCALE, PERCENT_SCALE, RATE_SCALE } from './axis';
import { isoPeriod } from './period';
import { UsageChart } from './UsageChart';

const WINDOWS = [
  { hours: 1, label: 'Last hour' },
  { hours: 24, label: 'Last 24 hours' },
  { hours: 24 * 7, label: 'Last 7 days' },
  { hours: 24 * 30, label: 'Last 30 days' },
];

/** How often the window moves on: samples are not events, so nothing pushes them. */
const REFRESH_MS = 10_000;

function windowEnding(hours: number, now: number) {
  return isoPeriod({ from: new Date(now - hours * 3_600_000), to: new Date(now) });
}

export default function VmUsagePanel({ vmId }: { vmId: string }) {
  const [hours, setHours] = useState(1);
  const [now, setNow] = useState(() => Date.now());
  useVisibleInterval(REFRESH_MS, () => setNow(Date.now()));
  const variables = useMemo(() => ({ vmId, ...windowEnding(hours, now) }), [vmId, hours, now]);
  const [{ data, error }] = useQuery({ query: VmUsageQuery, variables });

  const charts = useMemo(() => {
    const points = data?.vmUsage.points ?? [];
    const line = (label: string, pick: (point: (typeof points)[number]) => number | null | undefined) => ({
      label,
      values: points.map((point) => pick(point) ?? null),
    });
    return {
      times: points.map((point) => point.at),
      cpu: [line('CPU', (p) => p.cpuPercent)],
      memory: [line('Average', (p) => p.memoryAvgMib), line('Peak', (p) => p.memoryPeakMib)],
      disk: [line('Read', (p) => p.diskReadBytesPerSecond), line('Write', (p) => p.diskWriteBytesPerSecond)],
      network: [line('Received', (p) => p.netRxBytesPerSecond), line('Sent', (p) => p.netTxBytesPerSecond)],
    };
  }, [data]);

  return (
    <section className="panel" aria-labelledby="usage-title">
      <div className="page-head">
        <h2 id="usage-title">Usage</h2>
        <label>
          <span className="visually-hidden">Period </span>
          <select name="usageWindow" value={hours} onChange={(e) => setHours(Number(e.target.value))}>
            {WINDOWS.map((w) => (
              <option key={w.hours} value={w.hours}>
                {w.label}
              </option>
            ))}
          </select>
        </label>
      </div>
      <FormError message={error ? describe(problemOf(error)) : null} />
      {data ? (
        <div className="usage-charts">
          <UsageChart name="cpu" title="CPU (100 % = one host CPU)" times={charts.times} series={charts.cpu} scale={PERCENT_SCALE} />
          <UsageChart name="memory" title="Memory" times={charts.times} series={charts.memory} scale={MIB_SCALE} />
          <UsageChart name="disk" title="Disk" times={charts.times} series={charts.disk} scale={RATE_SCALE} />
          <UsageChart name="network" title="Network" times={charts.times} series={charts.network} scale={RATE_SCALE} />
        </div>
      ) : error ? null : (
        <p className="muted">Loading…</p>
      )}
    </section>
  );
}
