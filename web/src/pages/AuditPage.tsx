// The audit log: who did what to which VM, with what outcome — filtered, paged (newest first),
// followed live, exported as CSV or JSON lines, each entry's details as labelled fields, and a
// console session's replay from its entry, in a dialog over the page where the click was.
import { useEffect, useMemo, useState, type FormEvent } from 'react';
import { Link } from 'react-router-dom';
import { client, subscribeLive } from '../api/client';
import { download } from '../api/download';
import { describe, problemOf, type ApiProblem } from '../api/errors';
import { AuditPageQuery, AuditTailSubscription, RecordingQuery } from '../api/operations';
import { FormError } from '../components/FormError';
import { useNotify } from '../components/Notices';
import { formatTime, utcFromLocalInput } from '../format';
import type { AuditEntryFieldsFragment } from '../gql/graphql';
import { useVmList } from '../live/useVmList';
import { shortId, vmLabel } from '../live/vmLabel';
import { detailFields, textParts, type ValuePart } from './auditDetails';
import { useModal } from '../components/useModal';

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

/** A shortened id: the full one on hover, and copied on a click. */
function ShortId({ text, id }: { text: string; id: string }) {
  const notify = useNotify();
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(id);
      notify(`Copied ${id}`);
    } catch {
      // No clipboard outside a secure context: the id is at least shown whole.
      notify(id);
    }
  };
  return (
    <button type="button" className="short-id" title={`${id} — click to copy`} onClick={() => void copy()}>
      {text}
    </button>
  );
}

function Value({ parts }: { parts: readonly ValuePart[] }) {
  return (
    <>
      {parts.map((part, i) => (part.id ? <ShortId key={i} text={part.text} id={part.id} /> : <span key={i}>{part.text}</span>))}
    </>
  );
}

function Details({ details }: { details: unknown }) {
  const fields = detailFields(details);
  if (!fields.length) return null;
  return (
    <dl className="audit-details">
      {fields.map((field) => (
        <div key={field.label}>
          <dt>{field.label}</dt>
          <dd>
            <Value parts={field.value} />
          </dd>
        </div>
      ))}
    </dl>
  );
}

interface Recording {
  text: string;
  startedAt: string;
  finishedAt: string | null;
  lostBytes: number;
}

/** Every frame of a recorded session, as text without the terminal's control sequences. */
async function loadRecording(session: string): Promise<Recording | { problem: string }> {
  let from = 0;
  let text = '';
  for (;;) {
    const result = await client.query(RecordingQuery, { session, from }).toPromise();
    const recording = result.data?.consoleRecording;
    if (!recording) return { problem: result.error ? describe(problemOf(result.error)) : 'This session was not recorded.' };
    text += recording.frames.map((frame) => frame.text).join('');
    if (recording.frames.length < 5000) {
      // Colours and cursor moves make no sense on a page.
      const readable = text.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').replace(/\r\n?/g, '\n');
      return { text: readable, startedAt: recording.startedAt, finishedAt: recording.finishedAt ?? null, lostBytes: recording.lostBytes };
    }
    from = recording.frames[recording.frames.length - 1].seq + 1;
  }
}

/** A console session's transcript in a modal dialog: over the page, wherever the list was scrolled to. */
function ReplayDialog({ session, vm, onClose }: { session: string; vm: string | null; onClose(): void }) {
  const dialog = useModal();
  const [loaded, setLoaded] = useState<Recording | { problem: string } | null>(null);
  useEffect(() => {
    let cancelled = false;
    void loadRecording(session).then((result) => {
      if (!cancelled) setLoaded(result);
    });
    return () => {
      cancelled = true;
    };
  }, [session]);
  return (
    <dialog ref={dialog} className="replay" aria-labelledby="replay-title" data-testid="replay" onCancel={onClose}>
      <div className="page-head">
        <h2 id="replay-title">
          Console session {session.slice(0, 8)}
          {vm ? ` on ${vm}` : ''}
        </h2>
        <button type="button" className="button small" onClick={onClose} autoFocus>
          Close
        </button>
      </div>
      {loaded === null ? <p className="muted">Loading…</p> : null}
      {loaded && 'problem' in loaded ? <FormError message={loaded.problem} /> : null}
      {loaded && 'text' in loaded ? (
        <>
          <p className="muted">
            {formatTime(loaded.startedAt)} to {loaded.finishedAt ? formatTime(loaded.finishedAt) : 'now (still open)'}
            {loaded.lostBytes ? ` · ${loaded.lostBytes.toLocaleString()} bytes were not recorded` : ''}
          </p>
          <pre className="transcript" data-testid="transcript">
            {loaded.text}
          </pre>
        </>
      ) : null}
    </dialog>
  );
}

/** What the entry concerns: a VM (by its label while it exists), an account, or nothing. */
function Target({ entry, vm }: { entry: Entry; vm: string | undefined }) {
  if (entry.vmId) {
    return (
      <Link to={`/vms/${entry.vmId}`} title={entry.vmId}>
        {vm ?? shortId(entry.vmId)}
      </Link>
    );
  }
  if (entry.accountId) return <Value parts={textParts(`account:${entry.accountId}`)} />;
  return <>—</>;
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
  const [replay, setReplay] = useState<{ session: string; vmId: string | null } | null>(null);
  const [exportProblem, setExportProblem] = useState<string | null>(null);
  const vms = useVmList();
  // VMs may share a name: the filter, the Target column and the replay tell them apart by owner and id.
  const vmLabels = useMemo(() => new Map([...vms.list.byId.values()].map((vm) => [vm.id, vmLabel(vm)])), [vms.list]);

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
              {[...vmLabels].map(([id, label]) => (
                <option key={id} value={id}>
                  {label}
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
                  <td data-label="When">{formatTime(entry.at)}</td>
                  <td data-label="Who" title={entry.actor}>
                    {entry.actorName ?? <Value parts={textParts(entry.actor)} />}
                  </td>
                  <td data-label="From">{entry.clientAddress ?? '—'}</td>
                  <td data-label="Action">{entry.action}</td>
                  <td data-label="Target">
                    <Target entry={entry} vm={entry.vmId ? vmLabels.get(entry.vmId) : undefined} />
                  </td>
                  <td data-label="Outcome">
                    <span className="badge" data-state={entry.outcome === 'ok' ? 'RUNNING' : 'FAILED'}>
                      {entry.outcome}
                    </span>
                  </td>
                  <td className="details" data-label="Details">
                    {entry.sessionId && entry.action === 'ConsoleOpened' && entry.details?.kind === 'SERIAL' ? (
                      <button type="button" className="button small" onClick={() => setReplay({ session: entry.sessionId!, vmId: entry.vmId ?? null })}>
                        Replay
                      </button>
                    ) : null}
                    <Details details={entry.details} />
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
      {replay ? <ReplayDialog session={replay.session} vm={replay.vmId ? (vmLabels.get(replay.vmId) ?? null) : null} onClose={() => setReplay(null)} /> : null}
    </>
  );
}
