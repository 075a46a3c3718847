// A VM's snapshots: take, revert to, delete.
import { useState, type FormEvent } from 'react';
import { client } from '../api/client';
import { describe, problemOf, splitByField, type ApiProblem } from '../api/errors';
import { DeleteSnapshotMutation, RevertSnapshotMutation, TakeSnapshotMutation } from '../api/operations';
import { Confirm } from '../components/Confirm';
import { Field } from '../components/Field';
import { useNotify } from '../components/Notices';
import { formatTime } from '../format';
import type { VmDetailQuery } from '../gql/graphql';
import { FormError } from '../components/FormError';

type Snapshot = NonNullable<VmDetailQuery['vm']>['snapshots'][number];

export function SnapshotsPanel({ vmId, snapshots, allowed, busy }: { vmId: string; snapshots: readonly Snapshot[]; allowed: readonly string[]; busy: boolean }) {
  const notify = useNotify();
  const [name, setName] = useState('');
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  const [asking, setAsking] = useState<{ kind: 'revert' | 'delete'; snapshot: Snapshot } | null>(null);
  const [taking, setTaking] = useState(false);
  const canTake = allowed.includes('vms:snapshots:create');
  const canRevert = allowed.includes('vms:snapshots:revert');
  const canDelete = allowed.includes('vms:snapshots:delete');

  const take = async (event: FormEvent) => {
    event.preventDefault();
    if (taking) return;
    setProblem(null);
    setTaking(true);
    const result = await client.mutation(TakeSnapshotMutation, { vmId, name }).toPromise();
    setTaking(false);
    if (result.error) setProblem(problemOf(result.error));
    else setName('');
  };
  const act = async (kind: 'revert' | 'delete', snapshot: Snapshot) => {
    const variables = { vmId, snapshotId: snapshot.id };
    const result =
      kind === 'revert'
        ? await client.mutation(RevertSnapshotMutation, variables).toPromise()
        : await client.mutation(DeleteSnapshotMutation, variables).toPromise();
    if (result.error) notify(describe(problemOf(result.error)), 'error');
  };
  const { fields, general } = splitByField(problem);

  return (
    <section className="panel" aria-labelledby="snapshots-title">
      <h2 id="snapshots-title">Snapshots</h2>
      {snapshots.length ? (
        <ul className="list">
          {snapshots.map((snapshot) => (
            <li key={snapshot.id}>
              <span>
                <strong>{snapshot.name}</strong> <span className="muted">{formatTime(snapshot.createdAt)}</span>{' '}
                {snapshot.withMemory ? <span className="badge">with memory</span> : null}{' '}
                {snapshot.status !== 'READY' ? <span className="badge">{snapshot.status.toLowerCase()}</span> : null}
              </span>
              <span className="actions">
                <button type="button" className="button small" disabled={!canRevert || busy} title={canRevert ? undefined : 'Needs the vms:snapshots:revert policy'} onClick={() => setAsking({ kind: 'revert', snapshot })}>
                  Revert
                </button>
                <button type="button" className="button small danger-outline" disabled={!canDelete || busy} title={canDelete ? undefined : 'Needs the vms:snapshots:delete policy'} onClick={() => setAsking({ kind: 'delete', snapshot })}>
                  Delete
                </button>
              </span>
            </li>
          ))}
        </ul>
      ) : (
        <p className="empty">No snapshots.</p>
      )}
      {canTake ? (
        <form className="inline-form" onSubmit={take}>
          <Field label="Snapshot name" error={fields.name}>
            {(props) => <input {...props} required value={name} onChange={(e) => setName(e.target.value)} />}
          </Field>
          <button type="submit" className="button" disabled={busy || taking}>
            Take snapshot
          </button>
          <FormError message={general} />
        </form>
      ) : null}
      {asking ? (
        <Confirm
          title={asking.kind === 'revert' ? `Revert to ${asking.snapshot.name}?` : `Delete ${asking.snapshot.name}?`}
          message={<p>{asking.kind === 'revert' ? 'Everything since the snapshot is lost.' : 'The snapshot is gone for good.'}</p>}
          confirmLabel={asking.kind === 'revert' ? 'Revert' : 'Delete'}
          onCancel={() => setAsking(null)}
          onConfirm={() => {
            const { kind, snapshot } = asking;
            setAsking(null);
            void act(kind, snapshot);
          }}
        />
      ) : null}
    </section>
  );
}
