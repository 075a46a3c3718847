// An action the caller may lack the policy for: shown greyed, naming the missing policy, so a
// host can tell what to grant. The server refuses the call anyway.
import type { ReactNode } from 'react';

export interface GatedButtonProps {
  allowed: boolean;
  policy: string;
  onClick(): void;
  className?: string;
  disabled?: boolean;
  children: ReactNode;
}

export function GatedButton({ allowed, policy, onClick, className = 'button small', disabled, children }: GatedButtonProps) {
  return (
    <button
      type="button"
      className={className}
      disabled={!allowed || disabled}
      title={allowed ? undefined : `Needs the ${policy} policy`}
      data-missing-policy={allowed ? undefined : policy}
      onClick={onClick}
    >
      {children}
      {allowed ? null : <span className="visually-hidden"> (needs the {policy} policy)</span>}
    </button>
  );
}
