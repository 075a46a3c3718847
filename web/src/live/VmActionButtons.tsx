// The lifecycle buttons a VM offers in its state, greyed where the caller lacks the policy or
// while snapshot work makes the VM wait.
import { GatedButton } from '../components/Gate';
import type { VmState } from '../gql/graphql';
import { actionsFor, SNAPSHOT_BUSY, type VmAction } from './vmActions';

export function VmActionButtons({ vm, onAction }: { vm: { state: VmState; allowed: readonly string[]; busy: boolean }; onAction(action: VmAction): void }) {
  return (
    <>
      {actionsFor(vm).map((spec) => (
        <GatedButton
          key={spec.action}
          allowed={spec.allowed}
          policy={spec.policy}
          className={`button small${spec.danger ? ' danger-outline' : ''}`}
          blocked={vm.busy ? SNAPSHOT_BUSY : null}
          onClick={() => onAction(spec.action)}
        >
          {spec.label}
        </GatedButton>
      ))}
    </>
  );
}
