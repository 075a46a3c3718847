// Resizing a stopped VM: new vCPUs and memory, and a disk at least as large (a disk with
// snapshots cannot grow). The server's refusal shows on the field it is about.
import { useState, type FormEvent } from 'react';
import { client } from '../api/client';
import { splitByField, type ApiProblem, problemOfResult } from '../api/errors';
import { ResizeVmMutation } from '../api/operations';
import { FormError } from '../components/FormError';
import { formatGib } from '../format';
import { DISK_GIB } from '../live/vmLimits';
import type { Vm } from '../live/vmList';
import { VmSizeFields, type VmSize } from './VmSizeFields';
import { useModal } from '../components/useModal';

const FIELDS = ['vcpus', 'memoryMib', 'diskGib'];

export interface ResizeDialogProps {
  vm: Vm & { snapshots: readonly unknown[] };
  onResized(vm: Vm): void;
  onCancel(): void;
}

export function ResizeDialog({ vm, onResized, onCancel }: ResizeDialogProps) {
  const dialog = useModal();
  const [size, setSize] = useState<VmSize>({ vcpus: vm.vcpus, memoryMib: vm.memoryMib, diskGib: vm.diskGib });
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setProblem(null);
    const result = await client.mutation(ResizeVmMutation, { id: vm.id, ...size }).toPromise();
    setBusy(false);
    if (result.error || !result.data) {
      setProblem(problemOfResult(result.error));
      return;
    }
    onResized(result.data.resizeVm);
  };

  const { fields, general } = splitByField(problem, FIELDS);
  const diskHelp = vm.snapshots.length
    ? `It has snapshots: the disk stays at ${formatGib(vm.diskGib)} until they are deleted.`
    : `${formatGib(vm.diskGib)} (its size now: disks only grow) to ${formatGib(DISK_GIB.max)}.`;

  return (
    <dialog ref={dialog} className="wide-dialog" aria-labelledby="resize-title" onCancel={onCancel} data-testid="resize-dialog">
      <form className="stack" onSubmit={submit} noValidate>
        <h2 id="resize-title">Resize {vm.name}</h2>
        <VmSizeFields size={size} onChange={setSize} errors={fields} diskMin={vm.diskGib} diskHelp={diskHelp} />
        <FormError message={general} />
        <div className="dialog-actions">
          <button type="button" className="button" onClick={onCancel}>
            Cancel
          </button>
          <button type="submit" className="button primary" disabled={busy}>
            {busy ? 'Resizing…' : 'Resize'}
          </button>
        </div>
      </form>
    </dialog>
  );
}
