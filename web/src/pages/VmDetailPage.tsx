// One VM: state and actions, consoles, specs, history, snapshots and credentials — all live —
// and its usage charts, whose code (uPlot with it) loads only when shown.
import { lazy, Suspense, useState } from 'react';
import { Link, useNavigate, useParams } from 'react-router-dom';
import { useQuery } from 'urql';
import { client } from '../api/client';
import { describe, problemOf } from '../api/errors';
import { CloneVmMutation, RenameVmMutation, VmQuery } from '../api/operations';
import { Confirm } from '../components/Confirm';
import { FormError } from '../components/FormError';
import { GatedButton } from '../components/Gate';
import { useNotify } from '../components/Notices';
import { StateBadge } from '../components/StateBadge';
import { StateReason } from '../components/StateReason';
import { formatMib, formatTime } from '../format';
import type { VmState } from '../gql/graphql';
import { SNAPSHOT_BUSY, VM_ACTIONS, type VmAction } from '../live/vmActions';
import { VmActionButtons } from '../live/VmActionButtons';
import { useVmAction } from '../live/useVmAction';
import { useVmDetail } from '../live/useVmDetail';
import { vmLabel } from '../live/vmLabel';
import { useSession } from '../session';
import { ResizeDialog } from './ResizeDialog';
import { VmLabels } from './VmLabels';
import { CredentialsPanel } from './CredentialsPanel';
import { SnapshotsPanel } from './SnapshotsPanel';

const VmUsagePanel = lazy(() => import('../usage/VmUsagePanel'));

/** Actions that lose work or data ask first. */
const DANGEROUS = new Set(VM_ACTIONS.filter((spec) => spec.danger).map((spec) => spec.action));

function ConsoleButtons({ id, running, canConnect }: { id: string; running: boolean; canConnect: boolean }) {
  const why = !canConnect ? 'Needs the vms:connect policy' : !running ? 'The VM is not running' : undefined;
  const link = (label: string, query: string, primary = false) =>
    why ? (
      <button type="button" className="button" disabled title={why} data-missing-policy={canConnect ? undefined : 'vms:connect'}>
        {label}
      </button>
    ) : (
      <Link className={`button${primary ? ' primary' : ''}`} to={`/vms/${id}/console?${query}`}>
        {label}
      </Link>
    );
  return (
    <div className="actions">
      {link('Graphical console', 'kind=vnc', true)}
      {link('Serial console', 'kind=serial')}
      {link('Watch (view only)', 'kind=vnc&viewOnly=1')}
    </div>
  );
}

function NameAction({ label, policy, allowed, initial, onSubmit }: { label: string; policy: string; allowed: boolean; initial: string; onSubmit(name: string): Promise<boolean> }) {
  const [editing, setEditing] = useState(false);
  const [name, setName] = useState(initial);
  if (!editing) {
    return (
      <GatedButton allowed={allowed} policy={policy} onClick={() => { setName(initial); setEditing(true); }}>
        {label}
      </GatedButton>
    );
  }
  return (
    <form
      className="inline-form"
      onSubmit={async (e) => {
        e.preventDefault();
        if (await onSubmit(name)) setEditing(false);
      }}
    >
      <label className="visually-hidden" htmlFor={`${label}-name`}>
        New name
      </label>
      <input id={`${label}-name`} value={name} onChange={(e) => setName(e.target.value)} autoFocus required />
      <button type="submit" className="button small primary">
        {label}
      </button>
      <button type="button" className="button small" onClick={() => setEditing(false)}>
        Cancel
      </button>
    </form>
  );
}

/** Resizing needs the VM off and asked for nothing (crashed and failed VMs are too); snapshot work makes it wait. */
function resizeBlocked(vm: { state: VmState; busy: boolean }): string | null {
  if (vm.busy) return SNAPSHOT_BUSY;
  return ['STOPPED', 'CRASHED', 'FAILED'].includes(vm.state) ? null : 'Stop the VM to resize it';
}

/** The VM this one was cloned from, told apart from others of its name; its id alone if it is gone or hidden. */
function ClonedFrom({ id }: { id: string }) {
  const [{ data }] = useQuery({ query: VmQuery, variables: { id } });
  return <Link to={`/vms/${id}`}>{data?.vm ? vmLabel(data.vm) : id}</Link>;
}

export function VmDetailPage() {
  const { id = '' } = useParams();
  const navigate = useNavigate();
  const notify = useNotify();
  const { can } = useSession();
  const [asking, setAsking] = useState<VmAction | null>(null);
  const [resizing, setResizing] = useState(false);
  const { detail, history, creds, refresh } = useVmDetail(id);
  const run = useVmAction(undefined, () => navigate('/'));
  const vm = detail.data?.vm;

  if (detail.error) {
    return (
      <section className="panel narrow">
        <FormError message={describe(problemOf(detail.error))} />
      </section>
    );
  }
  if (!vm) {
    return <section className="panel narrow">{detail.fetching ? <p className="muted">Loading…</p> : <h1>No such VM</h1>}</section>;
  }

  const renameOrClone = async (mutation: 'rename' | 'clone', name: string) => {
    const result =
      mutation === 'rename'
        ? await client.mutation(RenameVmMutation, { id: vm.id, name }).toPromise()
        : await client.mutation(CloneVmMutation, { id: vm.id, name }).toPromise();
    if (result.error) {
      notify(describe(problemOf(result.error)), 'error');
      return false;
    }
    if (mutation === 'clone' && result.data && 'cloneVm' in result.data) {
      notify(`Cloning into ${name}.`);
      navigate(`/vms/${result.data.cloneVm.id}`);
    }
    return true;
  };

  return (
    <>
      <section className="panel">
        <p>
          <Link className="back" to="/">
            ← Overview
          </Link>
        </p>
        <div className="page-head">
          <h1>
            {vm.name} <StateBadge state={vm.state} busy={vm.busy} />
          </h1>
          <div className="actions">
            <VmActionButtons vm={vm} onAction={(action) => (DANGEROUS.has(action) ? setAsking(action) : void run(action, vm))} />
            <NameAction label="Rename" policy="vms:rename" allowed={vm.allowed.includes('vms:rename')} initial={vm.name} onSubmit={(n) => renameOrClone('rename', n)} />
            <NameAction label="Clone" policy="vms:duplicate" allowed={vm.allowed.includes('vms:duplicate')} initial={`${vm.name}-copy`} onSubmit={(n) => renameOrClone('clone', n)} />
            <GatedButton allowed={vm.allowed.includes('vms:resize')} policy="vms:resize" blocked={resizeBlocked(vm)} onClick={() => setResizing(true)}>
              Resize
            </GatedButton>
          </div>
        </div>
        <StateReason state={vm.state} reason={vm.stateReason} pauseReason={vm.pauseReason} />
        {/* A failed VM's reason is its failure: said once. */}
        {vm.failure && vm.failure !== vm.stateReason ? <p className="failure">{vm.failure}</p> : null}
        <ConsoleButtons id={vm.id} running={vm.state === 'RUNNING'} canConnect={vm.allowed.includes('vms:connect')} />
        <dl className="specs">
          <dt>Image</dt>
          <dd>{vm.image}</dd>
          <dt>vCPUs</dt>
          <dd>{vm.vcpus}</dd>
          <dt>Memory</dt>
          <dd>{formatMib(vm.memoryMib)}</dd>
          <dt>Disk</dt>
          <dd>{vm.diskGib} GiB</dd>
          <dt>Addresses</dt>
          <dd data-testid="vm-addresses">{vm.addresses.length ? vm.addresses.join(', ') : '—'}</dd>
          <dt>Keyboard</dt>
          <dd>{vm.keyboardLayout}</dd>
          <dt>Owner</dt>
          <dd>{vm.ownerName ?? '—'}</dd>
          <dt>Created</dt>
          <dd>{formatTime(vm.createdAt)}</dd>
          {vm.clonedFromId ? (
            <>
              <dt>Cloned from</dt>
              <dd>
                <ClonedFrom id={vm.clonedFromId} />
              </dd>
            </>
          ) : null}
        </dl>
        <VmLabels vm={vm} onSaved={refresh} />
      </section>
      <SnapshotsPanel vm={vm} />
      {vm.allowed.includes('vms:credentials:list') ? (
        <CredentialsPanel
          vmId={vm.id}
          credentials={creds.data?.vm?.credentials ?? []}
          canIssue={vm.allowed.includes('vms:credentials:create')}
          canRevoke={vm.allowed.includes('vms:credentials:revoke')}
          onChanged={refresh}
        />
      ) : null}
      {can('usage:get') ? (
        <Suspense fallback={<section className="panel muted">Loading usage…</section>}>
          <VmUsagePanel vmId={vm.id} />
        </Suspense>
      ) : null}
      <section className="panel" aria-labelledby="history-title">
        <h2 id="history-title">History</h2>
        {history.error ? (
          <p className="form-error">{describe(problemOf(history.error))}</p>
        ) : (
          <ol className="history">
            {(history.data?.vm?.events ?? []).map((entry) => (
              <li key={entry.position} data-event={entry.event}>
                <time dateTime={entry.at}>{formatTime(entry.at)}</time> <strong>{entry.event}</strong> <span className="muted">by {entry.actor}</span>
                {entry.detail ? <div className="muted detail">{entry.detail}</div> : null}
              </li>
            ))}
          </ol>
        )}
      </section>
      {resizing ? (
        <ResizeDialog
          vm={vm}
          onCancel={() => setResizing(false)}
          onResized={(resized) => {
            setResizing(false);
            notify(`${resized.name} now has ${resized.vcpus} vCPUs, ${formatMib(resized.memoryMib)} of memory and a ${resized.diskGib} GiB disk.`);
            refresh();
          }}
        />
      ) : null}
      {asking ? (
        <Confirm
          title={`${asking === 'delete' ? 'Delete' : 'Force stop'} ${vm.name}?`}
          message={<p>{asking === 'delete' ? 'Its disk and snapshots are deleted. This cannot be undone.' : 'Unsaved work in the guest is lost.'}</p>}
          confirmLabel={asking === 'delete' ? 'Delete' : 'Force stop'}
          onCancel={() => setAsking(null)}
          onConfirm={() => {
            const action = asking;
            setAsking(null);
            void run(action, vm);
          }}
        />
      ) : null}
    </>
  );
}
