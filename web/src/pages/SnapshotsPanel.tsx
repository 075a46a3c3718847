// A VM's snapshots: take, revert to, delete. Each action is offered as the VM's state allows
// (a revert needs the VM stopped): greyed otherwise, its title saying what would allow it, so
// nothing fails only after its confirmation.
import { useState, type FormEvent } from 'react';
import { client } from '../api/client';
import { describe, problemOf, splitByField, type ApiProblem } from '../api/errors';
import { DeleteSnapshotMutation, RevertSnapshotMutation, TakeSnapshotMutation } from '../api/operations';
import { Confirm } from '../components/Confirm';
import { Field } from '../components/Field';
import { FormError } from '../components/FormError';
import { GatedButton } from '../components/Gate';
import { useNotify } from '../components/Notices';
import { formatTime } from '../format';
import type { VmDetailQuery } from '../gql/graphql';
import { snapshotAction } from '../live/vmActions';

type Vm = NonNullable<VmDetailQuery['vm']>;
type Snapshot = Vm['snapshots'][number];

export function SnapshotsPanel({ vm }: { vm: Pick<Vm, 'id' | 'state' | 'allowed' | 'busy' | 'snapshots'> }) {
  const notify = useNotify();
  const [name, setName] = useState('');
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  const [asking, setAsking] = useState<{ kind: 'revert' | 'delete'; snapshot: Snapshot } | null>(null);
  const [taking, setTaking] = useState(false);
  const take = snapshotAction(vm, 'take');
  const revert = snapshotAction(vm, 'revert');
  const remove = snapshotAction(vm, 'delete');

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (taking) return;
    setProblem(null);
    setTaking(true);
    const result = await client.mutation(TakeSnapshotMutation, { vmId: vm.id, name }).toPromise();
    setTaking(false);
    if (result.error) setProblem(problemOf(result.error));
    else setName('');
  };
  const act = async (kind: 'revert' | 'delete', snapshot: Snapshot) => {
    const variables = { vmId: vm.id, snapshotId: snapshot.id };
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
      {vm.snapshots.length ? (
        <ul className="list snapshots">
          {vm.snapshots.map((snapshot) => (
            <li key={snapshot.id} data-snapshot={snapshot.name}>
              <span>
                <strong>{snapshot.name}</strong> <span className="muted">{formatTime(snapshot.createdAt)}</span>{' '}
                {snapshot.withMemory ? <span className="badge">with memory</span> : null}{' '}
                {snapshot.status !== 'READY' ? <span className="badge">{snapshot.status.toLowerCase()}</span> : null}
              </span>
              <span className="actions">
                <GatedButton {...revert} onClick={() => setAsking({ kind: 'revert', snapshot })}>
                  Revert
                </GatedButton>
                <GatedButton {...remove} className="button small danger-outline" onClick={() => setAsking({ kind: 'delete', snapshot })}>
                  Delete
                </GatedButton>
              </span>
            </li>
          ))}
        </ul>
      ) : (
        <p className="empty">No snapshots.</p>
      )}
      {take.allowed ? (
        <form className="inline-form" onSubmit={submit}>
          <Field label="Snapshot name" error={fields.name}>
            {(props) => <input {...props} required value={name} onChange={(e) => setName(e.target.value)} />}
          </Field>
          <button type="submit" className="button" disabled={Boolean(take.blocked) || taking} title={take.blocked ?? undefined}>
            Take snapshot
          </button>
          {take.blocked ? <p className="help">{take.blocked}.</p> : null}
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
