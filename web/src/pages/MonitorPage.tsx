// Live screenshot tiles of the running VMs. Which VMs run comes from `vmEvents`; a screen has
// no events, so each visible tile asks for a fresh picture every few seconds (only while the
// page is shown, one request per tile at a time). Running VMs whose screens the account may not
// see are listed by name, with the policy it lacks.
import { memo, useEffect, useMemo, useState } from 'react';
import { Link } from 'react-router-dom';
import { client } from '../api/client';
import { describe, problemOf } from '../api/errors';
import { ScreenshotQuery } from '../api/operations';
import { StateBadge } from '../components/StateBadge';
import { useVmList } from '../live/useVmList';
import { rows, type Vm } from '../live/vmList';

const TILE_WIDTH = 320;
const REFRESH_MS = 3_000;

const Tile = memo(function Tile({ vm }: { vm: Vm }) {
  const [src, setSrc] = useState<string | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout>;
    const shoot = async () => {
      if (!document.hidden) {
        const result = await client.query(ScreenshotQuery, { id: vm.id, maxWidth: TILE_WIDTH }).toPromise();
        if (stopped) return;
        if (result.data) {
          setSrc(`data:image/png;base64,${result.data.vmScreenshot}`);
          setProblem(null);
        } else if (result.error) setProblem(describe(problemOf(result.error)));
      }
      timer = setTimeout(shoot, REFRESH_MS);
    };
    void shoot();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [vm.id]);
  const body = (
    <>
      <div className="tile-screen">{src ? <img src={src} alt={`Screen of ${vm.name}`} /> : <span className="muted">{problem ?? 'Loading…'}</span>}</div>
      <div className="tile-caption">
        <strong>{vm.name}</strong> <StateBadge state={vm.state} />
      </div>
    </>
  );
  return (
    <li className="tile" data-vm-id={vm.id}>
      {vm.allowed.includes('vms:connect') ? (
        <Link to={`/vms/${vm.id}/console`} aria-label={`Open the console of ${vm.name}`}>
          {body}
        </Link>
      ) : (
        body
      )}
    </li>
  );
});

/** Running VMs whose screens this account may not see: named, so it knows they run and what it lacks. */
function Unwatchable({ vms, alone }: { vms: readonly Vm[]; alone: boolean }) {
  const which = vms.length === 1 ? 'this running VM, so its screen' : `these ${vms.length} running VMs, so their screens`;
  return (
    <div className="unwatchable" data-missing-policy="vms:screenshot">
      <p className="notice-inline">
        {alone
          ? 'Your account lacks the vms:screenshot policy, so no screens can be shown. Running now:'
          : `Your account lacks the vms:screenshot policy for ${which} can’t be shown:`}
      </p>
      <ul className="list">
        {vms.map((vm) => (
          <li key={vm.id} data-vm-id={vm.id}>
            {vm.allowed.includes('vms:getById') ? <Link to={`/vms/${vm.id}`}>{vm.name}</Link> : <span>{vm.name}</span>}
            <StateBadge state={vm.state} busy={vm.busy} />
          </li>
        ))}
      </ul>
    </div>
  );
}

export function MonitorPage() {
  const live = useVmList();
  const running = useMemo(() => rows(live.list).filter((vm) => vm.state === 'RUNNING'), [live.list]);
  const watchable = running.filter((vm) => vm.allowed.includes('vms:screenshot'));
  const unwatchable = running.filter((vm) => !vm.allowed.includes('vms:screenshot'));
  return (
    <section className="panel monitor">
      <h1>Monitor</h1>
      {live.problem ? (
        <p className="form-error" role="alert">
          {describe(live.problem)} Trying again…
        </p>
      ) : null}
      {live.loading ? (
        <p className="muted">Loading…</p>
      ) : running.length === 0 ? (
        live.problem ? null : <p className="empty">No VMs are running.</p>
      ) : (
        <>
          {watchable.length ? (
            <ul className="tiles">
              {watchable.map((vm) => (
                <Tile key={vm.id} vm={vm} />
              ))}
            </ul>
          ) : null}
          {unwatchable.length ? <Unwatchable vms={unwatchable} alone={!watchable.length} /> : null}
        </>
      )}
    </section>
  );
}
