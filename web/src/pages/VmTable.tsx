// The VM table. Rows are memoized on the VM object, which the live list keeps identical while
// a VM is unchanged: an event re-renders one row, not a thousand.
import { memo } from 'react';
import { Link } from 'react-router-dom';
import { StateBadge } from '../components/StateBadge';
import { formatMib } from '../format';
import { VmActionButtons } from '../live/VmActionButtons';
import type { VmAction } from '../live/vmActions';
import type { Vm } from '../live/vmList';

export interface VmRowProps {
  vm: Vm;
  onAction(action: VmAction, vm: Vm): void;
}

export const VmRow = memo(function VmRow({ vm, onAction }: VmRowProps) {
  const canConnect = vm.allowed.includes('vms:connect');
  return (
    <tr data-vm-id={vm.id} data-state={vm.state}>
      <th scope="row">
        {vm.allowed.includes('vms:getById') ? <Link to={`/vms/${vm.id}`}>{vm.name}</Link> : vm.name}
        {vm.failure ? <div className="failure">{vm.failure}</div> : null}
      </th>
      <td data-label="State">
        <StateBadge state={vm.state} busy={vm.busy} />
      </td>
      <td data-label="Addresses">{vm.addresses.length ? vm.addresses.join(', ') : '—'}</td>
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
      <td className="actions-cell">
        <div className="actions">
          {vm.state === 'RUNNING' ? (
            canConnect ? (
              <Link className="button small primary" to={`/vms/${vm.id}/console`}>
                Console
              </Link>
            ) : (
              <button type="button" className="button small" disabled title="Needs the vms:connect policy" data-missing-policy="vms:connect">
                Console<span className="visually-hidden"> (needs the vms:connect policy)</span>
              </button>
            )
          ) : null}
          <VmActionButtons vm={vm} onAction={(action) => onAction(action, vm)} />
        </div>
      </td>
    </tr>
  );
});

export function VmTable({ vms, onAction }: { vms: Vm[]; onAction(action: VmAction, vm: Vm): void }) {
  return (
    <div className="table-wrap">
      <table className="vm-table">
        <caption className="visually-hidden">Virtual machines</caption>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">State</th>
            <th scope="col">Addresses</th>
            <th scope="col">Owner</th>
            <th scope="col">Image</th>
            <th scope="col" className="num">
              vCPUs
            </th>
            <th scope="col" className="num">
              Memory
            </th>
            <th scope="col" className="num">
              Disk
            </th>
            <th scope="col">
              <span className="visually-hidden">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {vms.map((vm) => (
            <VmRow key={vm.id} vm={vm} onAction={onAction} />
          ))}
        </tbody>
      </table>
    </div>
  );
}
