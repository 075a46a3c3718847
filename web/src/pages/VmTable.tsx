// The VM table: searched, filtered and sorted as the address says, with live CPU and memory use,
// and checkboxes for acting on many VMs at once. Rows are memoized on the VM object, which the
// live list keeps identical while a VM is unchanged: an event re-renders one row, not a thousand.
import { memo, useCallback, useMemo, useState } from 'react';
import { Link, useSearchParams } from 'react-router-dom';
import { GatedButton } from '../components/Gate';
import { PopoverMenu } from '../components/PopoverMenu';
import { StateBadge } from '../components/StateBadge';
import { formatMib, formatPercent, percent } from '../format';
import { useVmUsage } from '../live/useVmUsage';
import { actionsFor, SNAPSHOT_BUSY, type ActionSpec, type VmAction } from '../live/vmActions';
import { vmLabel } from '../live/vmLabel';
import type { Vm } from '../live/vmList';
import { nextSort, paramsFromView, viewFromParams, visibleVms, type LiveUsage, type SortKey, type VmView } from '../live/vmView';
import { BulkActions } from './BulkActions';
import { VmCount, VmFilters } from './VmFilters';
import { TagList } from './VmLabels';

function ConsoleLink({ vm }: { vm: Vm }) {
  return vm.allowed.includes('vms:connect') ? (
    <Link className="button small primary" to={`/vms/${vm.id}/console`}>
      Console
    </Link>
  ) : (
    <button type="button" className="button small" disabled title="Needs the vms:connect policy" data-missing-policy="vms:connect">
      Console<span className="visually-hidden"> (needs the vms:connect policy)</span>
    </button>
  );
}

function ActionButton({ vm, spec, onAction, inMenu = false }: { vm: Vm; spec: ActionSpec & { allowed: boolean }; onAction(action: VmAction): void; inMenu?: boolean }) {
  return (
    <GatedButton
      allowed={spec.allowed}
      policy={spec.policy}
      className={['button small', spec.danger && 'danger-outline', inMenu && 'menu-item'].filter(Boolean).join(' ')}
      blocked={vm.busy ? SNAPSHOT_BUSY : null}
      onClick={() => onAction(spec.action)}
    >
      {spec.label}
    </GatedButton>
  );
}

/**
 * The action the VM most likely needs (its console while it runs, else the first it offers) as a
 * button, the others in a menu: a row stays one line high however narrow the screen.
 */
function RowActions({ vm, onAction }: { vm: Vm; onAction(action: VmAction): void }) {
  const offered = actionsFor(vm);
  const running = vm.state === 'RUNNING';
  const primary = running ? null : offered[0];
  const more = running ? offered : offered.slice(1);
  return (
    <div className="actions row-actions">
      {running ? <ConsoleLink vm={vm} /> : null}
      {primary ? <ActionButton vm={vm} spec={primary} onAction={onAction} /> : null}
      {more.length ? (
        <PopoverMenu label={`More actions for ${vm.name}`} icon="⋯">
          {(close) =>
            more.map((spec) => (
              <ActionButton
                key={spec.action}
                vm={vm}
                spec={spec}
                inMenu
                onAction={(action) => {
                  close();
                  onAction(action);
                }}
              />
            ))
          }
        </PopoverMenu>
      ) : null}
    </div>
  );
}

function UsageBar({ value }: { value: number }) {
  return (
    <span className="usage-bar" aria-hidden="true">
      <span style={{ width: `${Math.min(100, Math.max(0, value))}%` }} data-level={value > 90 ? 'high' : value > 70 ? 'mid' : 'low'} />
    </span>
  );
}

function UsageCells({ vm, usage }: { vm: Vm; usage: LiveUsage | undefined }) {
  // A sample outlives the run it was taken in until the next poll: show it only while running.
  const sample = vm.state === 'RUNNING' ? usage : undefined;
  return (
    <>
      <td data-label="CPU" className={`num usage${sample ? '' : ' is-empty'}`}>
        {sample ? (
          <>
            {formatPercent(sample.cpuPercent)}
            <UsageBar value={sample.cpuPercent} />
          </>
        ) : (
          '—'
        )}
      </td>
      <td data-label="Memory use" className={`num usage${sample ? '' : ' is-empty'}`} title={sample ? `${formatMib(sample.memoryUsedMib)} of ${formatMib(vm.memoryMib)}` : undefined}>
        {sample ? (
          <>
            {formatMib(sample.memoryUsedMib)}
            <UsageBar value={percent(sample.memoryUsedMib, vm.memoryMib)} />
          </>
        ) : (
          '—'
        )}
      </td>
    </>
  );
}

export interface VmRowProps {
  vm: Vm;
  usage: LiveUsage | undefined;
  selected: boolean;
  onSelect(id: string, selected: boolean): void;
  onAction(action: VmAction, vm: Vm): void;
}

export const VmRow = memo(function VmRow({ vm, usage, selected, onSelect, onAction }: VmRowProps) {
  return (
    <tr data-vm-id={vm.id} data-state={vm.state} data-selected={selected || undefined}>
      <td className="select-cell">
        <input type="checkbox" checked={selected} onChange={(e) => onSelect(vm.id, e.target.checked)} aria-label={`Select ${vmLabel(vm)}`} />
      </td>
      <th scope="row">
        <span className="vm-name">{vm.allowed.includes('vms:getById') ? <Link to={`/vms/${vm.id}`}>{vm.name}</Link> : vm.name}</span>
        <TagList tags={vm.tags} />
        {vm.note ? (
          <p className="vm-note" title={vm.note}>
            {vm.note}
          </p>
        ) : null}
        {vm.failure ? <div className="failure">{vm.failure}</div> : null}
      </th>
      <td data-label="State">
        {/* A reason the failure line beside the name already says isn't repeated. */}
        <StateBadge state={vm.state} busy={vm.busy} reason={vm.stateReason === vm.failure ? null : vm.stateReason} />
      </td>
      <td data-label="Owner">{vm.ownerName ?? '—'}</td>
      <td data-label="Image">{vm.image}</td>
      <td data-label="vCPUs" className="num">
        {vm.vcpus}
      </td>
      <td data-label="Memory" className="num">
        {formatMib(vm.memoryMib)}
      </td>
      <td data-label="Disk" className="num">
        {vm.diskGib} GiB
      </td>
      <UsageCells vm={vm} usage={usage} />
      <td data-label="Addresses" className={`addresses${vm.addresses.length ? '' : ' is-empty'}`}>
        {vm.addresses.length ? vm.addresses.join(', ') : '—'}
      </td>
      <td className="actions-cell">
        <RowActions vm={vm} onAction={(action) => onAction(action, vm)} />
      </td>
    </tr>
  );
});

function SortHeader({ label, column, view, onView, numeric = false }: { label: string; column: SortKey; view: VmView; onView(view: VmView): void; numeric?: boolean }) {
  const current = view.sort === column;
  return (
    <th scope="col" className={numeric ? 'num' : undefined} aria-sort={current ? (view.descending ? 'descending' : 'ascending') : undefined}>
      <button type="button" className="sort" onClick={() => onView(nextSort(view, column))}>
        {label}
        <span aria-hidden="true">{current ? (view.descending ? ' ▾' : ' ▴') : ''}</span>
      </button>
    </th>
  );
}

export interface VmTableProps {
  vms: Vm[];
  onAction(action: VmAction, vm: Vm): void;
  /** Takes what a bulk action's mutations answered, so rows change before the events arrive. */
  onVm?(vm: Vm): void;
}

export function VmTable({ vms, onAction, onVm }: VmTableProps) {
  const [params, setParams] = useSearchParams();
  const view = useMemo(() => viewFromParams(params), [params]);
  // Replace, not push: typing a search should not leave one history entry per letter.
  const setView = useCallback((next: VmView) => setParams(paramsFromView(next), { replace: true }), [setParams]);
  const usage = useVmUsage(useMemo(() => vms.some((vm) => vm.state === 'RUNNING'), [vms]));
  const shown = useMemo(() => visibleVms(vms, view, usage), [vms, view, usage]);

  const [selected, setSelected] = useState<ReadonlySet<string>>(() => new Set());
  const onSelect = useCallback((id: string, on: boolean) => {
    setSelected((before) => {
      const after = new Set(before);
      if (on) after.add(id);
      else after.delete(id);
      return after;
    });
  }, []);
  // Bulk actions concern the selected VMs the filters let through, never hidden ones.
  const chosen = useMemo(() => shown.filter((vm) => selected.has(vm.id)), [shown, selected]);
  const selectShown = (on: boolean) =>
    setSelected((before) => {
      const after = new Set(before);
      for (const vm of shown) {
        if (on) after.add(vm.id);
        else after.delete(vm.id);
      }
      return after;
    });

  const header = (label: string, column: SortKey, numeric = false) => <SortHeader label={label} column={column} view={view} onView={setView} numeric={numeric} />;

  return (
    <div className="vm-table-view">
      <VmFilters vms={vms} view={view} onView={setView} />
      <BulkActions shown={shown} chosen={chosen} onSelectShown={selectShown} onClear={() => setSelected(new Set())} onVm={onVm}>
        <VmCount total={vms.length} shown={shown.length} view={view} onView={setView} />
      </BulkActions>
      {shown.length === 0 ? (
        <p className="empty" data-testid="no-match">
          No VM matches the search and filters.
        </p>
      ) : (
        <div className="table-wrap">
          <table className="vm-table vms">
            <caption className="visually-hidden">Virtual machines</caption>
            <thead>
              <tr>
                <th scope="col" className="select-cell">
                  <span className="visually-hidden">Selected</span>
                </th>
                {header('Name', 'name')}
                {header('State', 'state')}
                {header('Owner', 'owner')}
                {header('Image', 'image')}
                {header('vCPUs', 'vcpus', true)}
                {header('Memory', 'memory', true)}
                <th scope="col" className="num">
                  Disk
                </th>
                {header('CPU', 'cpu', true)}
                {header('Mem. use', 'memoryUse', true)}
                <th scope="col">Addresses</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {shown.map((vm) => (
                <VmRow key={vm.id} vm={vm} usage={usage.get(vm.id)} selected={selected.has(vm.id)} onSelect={onSelect} onAction={onAction} />
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}
