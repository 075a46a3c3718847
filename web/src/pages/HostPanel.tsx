// Host resources: what the machine has, what VMs were given, and whether libvirt answers.
import { useQuery } from 'urql';
import { HostQuery } from '../api/operations';
import { Callout } from '../components/Callout';
import { formatGib, formatMib, percent } from '../format';
import { useVisibleInterval } from '../live/useVisibleInterval';

/** How often the host's numbers are read again: they are not events, so nothing pushes them. */
const REFRESH_MS = 10_000;

function Meter({ label, used, total, detail }: { label: string; used: number; total: number; detail: string }) {
  const value = percent(used, total);
  return (
    <div className="meter">
      <div className="meter-head">
        <span>{label}</span>
        <span className="muted">{detail}</span>
      </div>
      <div className="meter-bar" role="meter" aria-label={label} aria-valuemin={0} aria-valuemax={100} aria-valuenow={Math.round(value)}>
        <span style={{ width: `${value}%` }} data-level={value > 90 ? 'high' : value > 70 ? 'mid' : 'low'} />
      </div>
    </div>
  );
}

/** How guests run: with KVM, or emulated in software, which is many times slower. */
function Virtualisation({ domainType, warning }: { domainType: string; warning?: string | null }) {
  return (
    <>
      <p className="host-virtualisation" data-domain-type={domainType}>
        Guests run with{' '}
        <strong>{domainType === 'kvm' ? 'KVM (hardware virtualisation)' : domainType === 'qemu' ? 'software emulation (QEMU/TCG), slow' : domainType}</strong>
      </p>
      {warning ? (
        <Callout severity="warning" testId="hypervisor-warning">
          {warning}
        </Callout>
      ) : null}
    </>
  );
}

export function HostPanel() {
  const [{ data, error }, refetch] = useQuery({ query: HostQuery });
  useVisibleInterval(REFRESH_MS, () => refetch({ requestPolicy: 'network-only' }));
  if (error) return null;
  const host = data?.host;
  if (!host) return <section className="panel host" aria-busy="true" />;
  const memoryUsed = host.memoryTotalMib - host.memoryAvailableMib;
  const diskUsed = host.diskTotalGib - host.diskAvailableGib;
  return (
    <section className="panel host" aria-labelledby="host-title">
      <h2 id="host-title">Host</h2>
      <Virtualisation domainType={host.hypervisor.domainType} warning={host.hypervisor.warning} />
      {!host.hypervisor.available ? (
        <p className="form-error" role="alert">
          libvirt is not answering{host.hypervisor.error ? `: ${host.hypervisor.error}` : ''}. Commands are recorded and carried
          out when it is back.
        </p>
      ) : null}
      <div className="meters">
        <Meter
          label="CPU"
          used={host.loadAverage[0] ?? 0}
          total={host.cpus}
          detail={`load ${(host.loadAverage[0] ?? 0).toFixed(2)} on ${host.cpus} CPUs · ${host.allocatedVcpus} vCPUs given to VMs`}
        />
        <Meter
          label="Memory"
          used={memoryUsed}
          total={host.memoryTotalMib}
          detail={`${formatMib(memoryUsed)} of ${formatMib(host.memoryTotalMib)} in use · ${formatMib(host.allocatedMemoryMib)} given to VMs`}
        />
        <Meter
          label="Disk"
          used={diskUsed}
          total={host.diskTotalGib}
          detail={`${formatGib(diskUsed)} of ${formatGib(host.diskTotalGib)} in use · ${formatGib(host.allocatedDiskGib)} given to VMs`}
        />
      </div>
    </section>
  );
}
