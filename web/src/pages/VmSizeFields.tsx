// vCPUs, memory and disk of a VM, new or resized, with the limits the server enforces said up
// front: vCPUs up to the host's CPUs, memory and disk within the server's ranges. Memory above
// what the host has free is allowed (it may be free by the time the VM starts) but warned about.
import type { ReactNode } from 'react';
import { Field } from '../components/Field';
import { formatGib, formatMib } from '../format';
import { useHostLimits } from '../live/useHostLimits';
import { DISK_GIB, MEMORY_MIB, VCPUS } from '../live/vmLimits';

export interface VmSize {
  vcpus: number;
  memoryMib: number;
  diskGib: number;
}

export interface VmSizeFieldsProps {
  size: VmSize;
  onChange(size: VmSize): void;
  /** The server's refusals by field (`vcpus`, `memoryMib`, `diskGib`). */
  errors: Record<string, string>;
  /** The smallest disk allowed: the image's size, or the disk the VM has (disks only grow). */
  diskMin: number;
  diskHelp?: ReactNode;
}

export function VmSizeFields({ size, onChange, errors, diskMin, diskHelp }: VmSizeFieldsProps) {
  const host = useHostLimits();
  const maxVcpus = host ? Math.min(host.cpus, VCPUS.max) : VCPUS.max;
  const number = (key: keyof VmSize) => (e: { target: { value: string } }) => onChange({ ...size, [key]: Number(e.target.value) });
  const short = host !== null && size.memoryMib > host.memoryAvailableMib;
  return (
    <div className="grid-3">
      <Field label="vCPUs" error={errors.vcpus} help={host ? `At most ${maxVcpus}: this host has ${host.cpus} CPUs.` : `${VCPUS.min} to ${VCPUS.max}.`}>
        {(props) => <input {...props} name="vcpus" type="number" min={VCPUS.min} max={maxVcpus} value={size.vcpus} onChange={number('vcpus')} />}
      </Field>
      <Field
        label="Memory (MiB)"
        error={errors.memoryMib}
        help={
          <>
            {formatMib(MEMORY_MIB.min)} to {formatMib(MEMORY_MIB.max)}.
            {short ? (
              <span className="field-warning" data-testid="memory-warning">
                {' '}
                The host has {formatMib(host.memoryAvailableMib)} free right now: the VM may not start, or may crowd the others.
              </span>
            ) : null}
          </>
        }
      >
        {(props) => (
          <input {...props} name="memoryMib" type="number" min={MEMORY_MIB.min} max={MEMORY_MIB.max} step={64} value={size.memoryMib} onChange={number('memoryMib')} />
        )}
      </Field>
      <Field label="Disk (GiB)" error={errors.diskGib} help={diskHelp ?? `${formatGib(diskMin)} to ${formatGib(DISK_GIB.max)}.`}>
        {(props) => <input {...props} name="diskGib" type="number" min={diskMin} max={DISK_GIB.max} value={size.diskGib} onChange={number('diskGib')} />}
      </Field>
    </div>
  );
}
