// The lifecycle buttons a VM offers in its state, greyed where the caller lacks the policy.
import { GatedButton } from '../components/Gate';
import { actionsFor, type VmAction } from './vmActions';

export function VmActionButtons({ vm, onAction }: { vm: { state: Parameters<typeof actionsFor>[0]['state']; allowed: readonly string[]; busy: boolean }; onAction(action: VmAction): void }) {
  return (
    <>
      {actionsFor(vm).map((spec) => (
        <GatedButton
          key={spec.action}
          allowed={spec.allowed}
          policy={spec.policy}
          className={`button small${spec.danger ? ' danger-outline' : ''}`}
          disabled={vm.busy}
          onClick={() => onAction(spec.action)}
        >
          {spec.label}
        </GatedButton>
      ))}
    </>
  );
}
