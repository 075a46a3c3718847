// An action the caller may lack the policy for: shown greyed, naming the missing policy, so a
// host can tell what to grant. The server refuses the call anyway. An action the state refuses
// for now (a revert while the VM runs) is greyed the same way, saying what would allow it.
import type { ReactNode } from 'react';

export interface GatedButtonProps {
  allowed: boolean;
  policy: string;
  onClick(): void;
  className?: string;
  disabled?: boolean;
  /** Why the action cannot be done now though the policy is held (the VM's state): shown as its title. */
  blocked?: string | null;
  children: ReactNode;
}

export function GatedButton({ allowed, policy, onClick, className = 'button small', disabled, blocked, children }: GatedButtonProps) {
  return (
    <button
      type="button"
      className={className}
      disabled={!allowed || disabled || Boolean(blocked)}
      title={allowed ? (blocked ?? undefined) : `Needs the ${policy} policy`}
      data-missing-policy={allowed ? undefined : policy}
      onClick={onClick}
    >
      {children}
      {allowed ? null : <span className="visually-hidden"> (needs the {policy} policy)</span>}
      {allowed && blocked ? <span className="visually-hidden"> ({blocked})</span> : null}
    </button>
  );
}
