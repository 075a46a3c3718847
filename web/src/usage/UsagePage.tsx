// Usage reports: what each VM, account or credential used over a period (running and vCPU
// hours, memory, CPU, disk, network, console time), as a table, as bars, and as CSV; and the
// host's CPU and memory over the same period. The settings live in the address, so a report
// can be linked. Loaded on demand, uPlot with it.
import { useMemo, useState, type FormEvent } from 'react';
import { useSearchParams } from 'react-router-dom';
import { useQuery } from 'urql';
import { download } from '../api/download';
import { describe, problemOf, splitByField } from '../api/errors';
import { HostUsageQuery, UsageReportQuery } from '../api/operations';
import { Field } from '../components/Field';
import { FormError } from '../components/FormError';
import { formatTime } from '../format';
import { MIB_SCALE, PERCENT_SCALE } from './axis';
import {
  draftOf,
  GROUPS,
  PRESETS,
  queryFromSettings,
  reportVariables,
  settingsFromQuery,
  settingsOf,
  usageExportUrl,
  type ReportDraft,
  type ReportSettings,
  type ReportVariables,
} from './period';
import { UsageBars } from './UsageBars';
import { UsageChart } from './UsageChart';
import { UsageTable } from './UsageTable';

interface ReportFormProps {
  settings: ReportSettings;
  shown: ReportVariables;
  /** The server's refusals by input (`from`, `to`, `asOf`). */
  errors: Record<string, string>;
  onShow(draft: ReportDraft): void;
}

function ReportForm({ settings, shown, errors, onShow }: ReportFormProps) {
  const [draft, setDraft] = useState(() => draftOf(settings, shown));
  const set = (key: keyof ReportDraft) => (e: { target: { value: string } }) => setDraft({ ...draft, [key]: e.target.value });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    onShow(draft);
  };
  const custom = draft.period === 'custom';
  return (
    <form className="inline-form usage-form" onSubmit={submit}>
      <Field label="Period">
        {(props) => (
          <select {...props} name="period" value={draft.period} onChange={set('period')}>
            {PRESETS.map((preset) => (
              <option key={preset.id} value={preset.id}>
                {preset.label}
              </option>
            ))}
            <option value="custom">Custom…</option>
          </select>
        )}
      </Field>
      {custom ? (
        <>
          <Field label="From" error={errors.from}>
            {(props) => <input {...props} name="from" type="datetime-local" required value={draft.from} onChange={set('from')} />}
          </Field>
          <Field label="To" error={errors.to}>
            {(props) => <input {...props} name="to" type="datetime-local" required value={draft.to} onChange={set('to')} />}
          </Field>
        </>
      ) : null}
      <Field label="As of" error={errors.asOf}>
        {(props) => <input {...props} name="asOf" type="datetime-local" value={draft.asOf} onChange={set('asOf')} title="Empty: now" />}
      </Field>
      <Field label="Group by">
        {(props) => (
          <select {...props} name="groupBy" value={draft.groupBy} onChange={set('groupBy')}>
            {GROUPS.map((group) => (
              <option key={group.id} value={group.id}>
                {group.label}
              </option>
            ))}
          </select>
        )}
      </Field>
      <button type="submit" className="button primary small">
        Show
      </button>
    </form>
  );
}


function HostCharts({ from, to }: { from: string; to: string }) {
  const variables = useMemo(() => ({ from, to }), [from, to]);
  const [{ data, error }] = useQuery({ query: HostUsageQuery, variables });
  const charts = useMemo(() => {
    const points = data?.hostUsage.points ?? [];
    return {
      times: points.map((point) => point.at),
      cpu: [{ label: 'CPU', values: points.map((point) => point.cpuPercent ?? null) }],
      memory: [
        { label: 'Used', values: points.map((point) => point.memoryUsedMib ?? null) },
        { label: 'Total', values: points.map((point) => point.memoryTotalMib ?? null) },
      ],
    };
  }, [data]);
  return (
    <section className="panel" aria-labelledby="host-usage-title">
      <h2 id="host-usage-title">Host</h2>
      <FormError message={error ? describe(problemOf(error)) : null} />
      {data ? (
        <div className="usage-charts">
          <UsageChart name="host-cpu" title="CPU (100 % = all host CPUs)" times={charts.times} series={charts.cpu} scale={PERCENT_SCALE} />
          <UsageChart name="host-memory" title="Memory" times={charts.times} series={charts.memory} scale={MIB_SCALE} />
        </div>
      ) : null}
    </section>
  );
}

export default function UsagePage() {
  const [query, setQuery] = useSearchParams();
  const settings = useMemo(() => settingsFromQuery(query), [query]);
  // The moment presets count back from: when the report was asked for, not every render.
  const [askedAt, setAskedAt] = useState(() => Date.now());
  const variables = useMemo(() => reportVariables(settings, new Date(askedAt)), [settings, askedAt]);
  const [{ data, error, fetching }] = useQuery({ query: UsageReportQuery, variables });
  const [exportProblem, setExportProblem] = useState<string | null>(null);
  const report = data?.usageReport;

  const { fields, general } = splitByField(error ? problemOf(error) : null);
  const onForm = (field: string) => field === 'asOf' || ('from' in settings.period && (field === 'from' || field === 'to'));
  const elsewhere = Object.entries(fields).find(([field]) => !onForm(field))?.[1] ?? null;

  const show = (draft: ReportDraft) => {
    setQuery(queryFromSettings(settingsOf(draft)));
    setAskedAt(Date.now());
  };
  const exportCsv = async () => setExportProblem(await download(usageExportUrl(variables), 'distribox-usage.csv'));

  return (
    <>
      <section className="panel">
        <div className="page-head">
          <h1>Usage</h1>
          <div className="actions">
            <button type="button" className="button small" onClick={() => void exportCsv()}>
              Export CSV
            </button>
          </div>
        </div>
        <FormError message={exportProblem} />
        <ReportForm key={query.toString()} settings={settings} shown={variables} errors={fields} onShow={show} />
        <FormError message={general ?? elsewhere} />
        {report ? (
          <>
            <p className="muted usage-period" aria-live="polite">
              {formatTime(report.from)} to {formatTime(report.to)}, as of {formatTime(report.asOf)}
            </p>
            {report.rows.length === 0 ? (
              <p className="empty">No usage in this period.</p>
            ) : (
              <>
                <UsageTable groupBy={report.groupBy} rows={report.rows} totals={report.totals} />
                <UsageBars rows={report.rows} />
              </>
            )}
          </>
        ) : fetching ? (
          <p className="muted">Loading…</p>
        ) : null}
      </section>
      {report ? <HostCharts from={variables.from} to={variables.to} /> : null}
    </>
  );
}
