// The audit log: who did what to which VM, with what outcome — filtered, paged (newest first),
// followed live, exported as CSV or JSON lines, and a console session's replay from its entry.
import { useEffect, useMemo, useState, type FormEvent } from 'react';
import { Link } from 'react-router-dom';
import { client, subscribeLive } from '../api/client';
import { download } from '../api/download';
import { describe, problemOf, type ApiProblem } from '../api/errors';
import { AuditPageQuery, AuditTailSubscription, RecordingQuery } from '../api/operations';
import { FormError } from '../components/FormError';
import { formatTime, utcFromLocalInput } from '../format';
import type { AuditEntryFieldsFragment } from '../gql/graphql';
import { useVmList } from '../live/useVmList';

type Entry = AuditEntryFieldsFragment;

const PAGE = 100;

export interface AuditFilters {
  vmId: string;
  actor: string;
  action: string;
  outcome: string;
  from: string;
  to: string;
}

const NO_FILTERS: AuditFilters = { vmId: '', actor: '', action: '', outcome: '', from: '', to: '' };

/** The filters as the API takes them: empty ones left out, local times as UTC. */
export function filterVariables(filters: AuditFilters) {
  return {
    vmId: filters.vmId || null,
    actor: filters.actor.trim() || null,
    action: filters.action.trim() || null,
    outcome: filters.outcome || null,
    from: utcFromLocalInput(filters.from),
    to: utcFromLocalInput(filters.to),
  };
}

/** The export's address, with the same filters. */
export function exportUrl(format: 'csv' | 'jsonl', filters: AuditFilters): string {
  const params = new URLSearchParams({ format });
  for (const [key, value] of Object.entries(filterVariables(filters))) if (value) params.set(key, value);
  return `/audit/export?${params}`;
}

function Replay({ session, onClose }: { session: string; onClose(): void }) {
  const [text, setText] = useState<string | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  useEffect(() => {
    let cancelled = false;
    (async () => {
      let from = 0;
      let all = '';
      for (;;) {
        const result = await client.query(RecordingQuery, { session, from }).toPromise();
        if (cancelled) return;
        const recording = result.data?.consoleRecording;
        if (!recording) {
          setProblem(result.error ? describe(problemOf(result.error)) : 'This session was not recorded.');
          return;
        }
        all += recording.frames.map((frame) => frame.text).join('');
        if (recording.frames.length < 5000) break;
        from = recording.frames[recording.frames.length - 1].seq + 1;
      }
      // Terminal control sequences make no sense on a page: colours and cursor moves go.
      setText(all.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').replace(/\r\n?/g, '\n'));
    })();
    return () => {
      cancelled = true;
    };
  }, [session]);
  return (
    <section className="panel" aria-labelledby="replay-title">
      <div className="page-head">
        <h2 id="replay-title">Console session {session.slice(0, 8)}</h2>
        <button type="button" className="button small" onClick={onClose}>
          Close
        </button>
      </div>
      <FormError message={problem} />
      {text === null && !problem ? <p className="muted">Loading…</p> : null}
      {text !== null ? (
        <pre className="transcript" data-testid="transcript">
          {text}
        </pre>
      ) : null}
    </section>
  );
}

export function AuditPage() {
  const [draft, setDraft] = useState<AuditFilters>(NO_FILTERS);
  const [filters, setFilters] = useState<AuditFilters>(NO_FILTERS);
  const [entries, setEntries] = useState<Entry[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [more, setMore] = useState(false);
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  const [loading, setLoading] = useState(false);
  const [live, setLive] = useState(true);
  const [replay, setReplay] = useState<string | null>(null);
  const [exportProblem, setExportProblem] = useState<string | null>(null);
  const vms = useVmList();
  const vmName = useMemo(() => new Map([...vms.list.byId.values()].map((vm) => [vm.id, vm.name])), [vms.list]);

  const load = async (after: string | null) => {
    setLoading(true);
    const result = await client.query(AuditPageQuery, { first: PAGE, after, ...filterVariables(filters) }).toPromise();
    setLoading(false);
    if (result.error || !result.data) {
      setProblem(result.error ? problemOf(result.error) : null);
      return;
    }
    setProblem(null);
    const page = result.data.auditLog.edges.map((edge) => edge.node);
    setEntries((current) => (after ? [...current, ...page] : page));
    setMore(result.data.auditLog.pageInfo.hasNextPage);
    setCursor(result.data.auditLog.pageInfo.endCursor ?? null);
  };

  useEffect(() => {
    void load(null);
    // A new filter starts from the newest entry again.
  }, [filters]); // eslint-disable-line

  useEffect(() => {
    // The tail has no time range: with one, the page is a fixed window.
    if (!live || filters.from || filters.to) return;
    const { vmId, actor, action, outcome } = filterVariables(filters);
    return subscribeLive(AuditTailSubscription, { vmId, actor, action, outcome }, ({ auditTail }) =>
      setEntries((current) => (current.some((e) => e.chainIndex === auditTail.chainIndex) ? current : [auditTail, ...current])),
    );
  }, [live, filters]);

  const apply = (event: FormEvent) => {
    event.preventDefault();
    setFilters(draft);
  };
  const set = (key: keyof AuditFilters) => (e: { target: { value: string } }) => setDraft({ ...draft, [key]: e.target.value });
  const exportAs = async (format: 'csv' | 'jsonl') => {
    setExportProblem(await download(exportUrl(format, filters), `distribox-audit.${format}`));
  };

  return (
    <>
      <section className="panel">
        <div className="page-head">
          <h1>Audit log</h1>
          <div className="actions">
            <label className="checkbox-inline">
              <input type="checkbox" checked={live} onChange={(e) => setLive(e.target.checked)} /> Live
            </label>
            <button type="button" className="button small" onClick={() => void exportAs('csv')}>
              Export CSV
            </button>
            <button type="button" className="button small" onClick={() => void exportAs('jsonl')}>
              Export JSON lines
            </button>
          </div>
        </div>
        <FormError message={exportProblem} />
        <form className="inline-form audit-filters" onSubmit={apply}>
          <label>
            VM{' '}
            <select name="vmId" value={draft.vmId} onChange={set('vmId')}>
              <option value="">Any</option>
              {[...vmName].map(([id, name]) => (
                <option key={id} value={id}>
                  {name}
                </option>
              ))}
            </select>
          </label>
          <label>
            Actor <input name="actor" placeholder="username or account:…" value={draft.actor} onChange={set('actor')} />
          </label>
          <label>
            Action <input name="action" placeholder="e.g. VmStarted" value={draft.action} onChange={set('action')} />
          </label>
          <label>
            Outcome{' '}
            <select name="outcome" value={draft.outcome} onChange={set('outcome')}>
              <option value="">Any</option>
              <option value="ok">ok</option>
              <option value="refused">refused</option>
              <option value="failed">failed</option>
            </select>
          </label>
          <label>
            From <input name="from" type="datetime-local" value={draft.from} onChange={set('from')} />
          </label>
          <label>
            To <input name="to" type="datetime-local" value={draft.to} onChange={set('to')} />
          </label>
          <button type="submit" className="button primary small">
            Show
          </button>
        </form>
        <FormError message={problem ? describe(problem) : null} />
        <div className="table-wrap">
          <table className="vm-table compact audit-table">
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Who</th>
                <th scope="col">From</th>
                <th scope="col">Action</th>
                <th scope="col">Target</th>
                <th scope="col">Outcome</th>
                <th scope="col">Details</th>
              </tr>
            </thead>
            <tbody>
              {entries.map((entry) => (
                <tr key={entry.chainIndex} data-action={entry.action} data-outcome={entry.outcome}>
                  <td>{formatTime(entry.at)}</td>
                  <td title={entry.actor}>{entry.actorName ?? entry.actor}</td>
                  <td>{entry.clientAddress ?? '—'}</td>
                  <td>{entry.action}</td>
                  <td>{entry.vmId ? <Link to={`/vms/${entry.vmId}`}>{vmName.get(entry.vmId) ?? entry.vmId.slice(0, 8)}</Link> : entry.accountId ? `account ${entry.accountId.slice(0, 8)}` : '—'}</td>
                  <td>
                    <span className="badge" data-state={entry.outcome === 'ok' ? 'RUNNING' : 'FAILED'}>
                      {entry.outcome}
                    </span>
                  </td>
                  <td className="details">
                    {entry.sessionId && entry.action === 'ConsoleOpened' && entry.details?.kind === 'SERIAL' ? (
                      <button type="button" className="button small" onClick={() => setReplay(entry.sessionId!)}>
                        Replay
                      </button>
                    ) : null}{' '}
                    {entry.details ? <code>{JSON.stringify(entry.details)}</code> : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        {!loading && entries.length === 0 && !problem ? <p className="empty">No entries.</p> : null}
        {more ? (
          <button type="button" className="button" disabled={loading} onClick={() => void load(cursor)}>
            {loading ? 'Loading…' : 'Older entries'}
          </button>
        ) : null}
      </section>
      {replay ? <Replay session={replay} onClose={() => setReplay(null)} /> : null}
    </>
  );
}
