import { useCallback, useMemo, useState } from 'react';
import { Link } from 'react-router-dom';
import { describe } from '../api/errors';
import { Confirm } from '../components/Confirm';
import { useVmAction } from '../live/useVmAction';
import { useVmList } from '../live/useVmList';
import type { VmAction } from '../live/vmActions';
import { rows, type Vm } from '../live/vmList';
import { useSession } from '../session';
import { HostPanel } from './HostPanel';
import { VmTable } from './VmTable';

/** Actions that lose work or data ask first. */
const CONFIRM: Partial<Record<VmAction, { title: string; label: string; text: string }>> = {
  forceStop: { title: 'Force stop', label: 'Force stop', text: 'pulls the plug: unsaved work in the guest is lost.' },
  delete: { title: 'Delete', label: 'Delete', text: 'is deleted with its disk and snapshots. This cannot be undone.' },
};

export function OverviewPage() {
  const { can } = useSession();
  const live = useVmList();
  // A deleted VM leaves the table when its deletion is done (VmDeleted), not when asked for.
  const run = useVmAction(live.put);
  const [asking, setAsking] = useState<{ action: VmAction; vm: Vm } | null>(null);
  const onAction = useCallback(
    (action: VmAction, vm: Vm) => {
      if (CONFIRM[action]) setAsking({ action, vm });
      else void run(action, vm);
    },
    [run],
  );
  const vms = useMemo(() => rows(live.list), [live.list]);
  const confirm = asking ? CONFIRM[asking.action] : undefined;

  return (
    <>
      {can('host:get') ? <HostPanel /> : null}
      <section className="panel">
        <div className="page-head">
          <h1>Virtual machines</h1>
          {can('vms:create') ? (
            <Link className="button primary" to="/vms/new">
              New VM
            </Link>
          ) : (
            <button type="button" className="button" disabled title="Needs the vms:create policy" data-missing-policy="vms:create">
              New VM
            </button>
          )}
        </div>
        {live.problem ? (
          <p className="form-error" role="alert">
            {describe(live.problem)} Trying again…
          </p>
        ) : null}
        {live.loading ? (
          <p className="muted">Loading…</p>
        ) : vms.length === 0 ? (
          live.problem ? null : <p className="empty">No virtual machines yet.</p>
        ) : (
          <VmTable vms={vms} onAction={onAction} onVm={live.put} />
        )}
      </section>
      {asking && confirm ? (
        <Confirm
          title={`${confirm.title} ${asking.vm.name}?`}
          message={
            <p>
              {asking.vm.name} {confirm.text}
            </p>
          }
          confirmLabel={confirm.label}
          onCancel={() => setAsking(null)}
          onConfirm={() => {
            const { action, vm } = asking;
            setAsking(null);
            void run(action, vm);
          }}
        />
      ) : null}
    </>
  );
}
