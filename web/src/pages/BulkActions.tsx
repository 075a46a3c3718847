// Acting on the selected VMs at once: start, force stop, delete. Only actions some selected VM
// allows (its state and the caller's policies) are offered; the dangerous ones ask first, naming
// the VMs; afterwards a report says which VMs were left out or refused, and why.
import { useEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import { Confirm } from '../components/Confirm';
import { BULK_ACTIONS, bulkPlan, runBulk, type BulkAction, type BulkPlan, type BulkResult } from '../live/bulkVmActions';
import { sendVmAction } from '../live/useVmAction';
import { vmLabel } from '../live/vmLabel';
import type { Vm } from '../live/vmList';

const WORDS: Record<BulkAction, { label: string; doing: string; warning?: string }> = {
  start: { label: 'Start', doing: 'Starting' },
  forceStop: { label: 'Force stop', doing: 'Force stopping', warning: 'Unsaved work in their guests is lost.' },
  delete: { label: 'Delete', doing: 'Deleting', warning: 'Their disks and snapshots are deleted. This cannot be undone.' },
};

const vms = (count: number) => `${count} VM${count === 1 ? '' : 's'}`;

function SelectShown({ shown, chosen, onChange }: { shown: number; chosen: number; onChange(on: boolean): void }) {
  const box = useRef<HTMLInputElement>(null);
  const some = chosen > 0 && chosen < shown;
  useEffect(() => {
    if (box.current) box.current.indeterminate = some;
  }, [some]);
  return (
    <label className="checkbox-inline">
      <input ref={box} type="checkbox" name="selectShown" checked={shown > 0 && chosen === shown} onChange={(e) => onChange(e.target.checked)} />
      Select all shown
    </label>
  );
}

function Skipped({ plan }: { plan: BulkPlan }) {
  if (!plan.skipped.length) return null;
  return (
    <>
      <p>Left out ({plan.skipped.length}):</p>
      <ul className="bulk-list">
        {plan.skipped.map(({ vm, reason }) => (
          <li key={vm.id} data-vm-id={vm.id} data-outcome="skipped">
            {vmLabel(vm)}: {reason}
          </li>
        ))}
      </ul>
    </>
  );
}

function Report({ result, onDismiss }: { result: BulkResult; onDismiss(): void }) {
  const { plan, accepted, refused } = result;
  const asked = plan.ready.length;
  return (
    <div className={`bulk-report${refused.length ? ' has-refusals' : ''}`} role="status" data-testid="bulk-report" data-action={plan.action}>
      <p>
        <strong>
          {WORDS[plan.action].doing} {accepted === asked ? vms(accepted) : `${accepted} of ${vms(asked)}`}.
        </strong>
      </p>
      {refused.length ? (
        <>
          <p>Refused ({refused.length}):</p>
          <ul className="bulk-list">
            {refused.map(({ vm, reason }) => (
              <li key={vm.id} data-vm-id={vm.id} data-outcome="refused">
                {vmLabel(vm)}: {reason}
              </li>
            ))}
          </ul>
        </>
      ) : null}
      <Skipped plan={plan} />
      <button type="button" className="button small" onClick={onDismiss}>
        Dismiss
      </button>
    </div>
  );
}

export interface BulkActionsProps {
  /** The VMs the table shows. */
  shown: readonly Vm[];
  /** The shown VMs that are selected. */
  chosen: readonly Vm[];
  onSelectShown(on: boolean): void;
  onClear(): void;
  onVm?(vm: Vm): void;
  /** Shown at the bar's end: what the table shows. */
  children?: ReactNode;
}

export function BulkActions({ shown, chosen, onSelectShown, onClear, onVm, children }: BulkActionsProps) {
  const [asking, setAsking] = useState<BulkPlan | null>(null);
  const [working, setWorking] = useState<BulkAction | null>(null);
  const [result, setResult] = useState<BulkResult | null>(null);
  const plans = useMemo(() => BULK_ACTIONS.map((action) => bulkPlan(action, chosen)).filter((plan) => plan.ready.length > 0), [chosen]);

  const run = async (plan: BulkPlan) => {
    setAsking(null);
    setResult(null);
    setWorking(plan.action);
    const done = await runBulk(plan, sendVmAction, (_, answered) => {
      if (answered) onVm?.(answered);
    });
    setWorking(null);
    setResult(done);
  };

  return (
    <>
      <div className="bulk-bar" data-testid="bulk-bar">
        <SelectShown shown={shown.length} chosen={chosen.length} onChange={onSelectShown} />
        {chosen.length ? (
          <>
            <span className="muted">{chosen.length} selected</span>
            {plans.map((plan) => {
              const words = WORDS[plan.action];
              return (
                <button
                  key={plan.action}
                  type="button"
                  className={`button small${words.warning ? ' danger-outline' : ''}`}
                  data-bulk={plan.action}
                  disabled={working !== null}
                  title={plan.skipped.length ? `${plan.ready.length} of the ${chosen.length} selected can be asked` : undefined}
                  onClick={() => (words.warning ? setAsking(plan) : void run(plan))}
                >
                  {working === plan.action ? `${words.doing}…` : `${words.label} ${plan.ready.length}`}
                </button>
              );
            })}
            {plans.length === 0 ? <span className="muted">None of them can be started, force stopped or deleted now.</span> : null}
            <button type="button" className="button small" onClick={onClear}>
              Clear selection
            </button>
          </>
        ) : null}
        <div className="bulk-bar-end">{children}</div>
      </div>
      {result ? <Report result={result} onDismiss={() => setResult(null)} /> : null}
      {asking ? (
        <Confirm
          title={`${WORDS[asking.action].label} ${vms(asking.ready.length)}?`}
          message={
            <div className="stack">
              <ul className="bulk-list" data-testid="bulk-confirm-list">
                {asking.ready.map((vm) => (
                  <li key={vm.id}>{vmLabel(vm)}</li>
                ))}
              </ul>
              <p>{WORDS[asking.action].warning}</p>
              <Skipped plan={asking} />
            </div>
          }
          confirmLabel={`${WORDS[asking.action].label} ${vms(asking.ready.length)}`}
          onCancel={() => setAsking(null)}
          onConfirm={() => void run(asking)}
        />
      ) : null}
    </>
  );
}
