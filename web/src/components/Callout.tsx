// A sentence that explains what sits beside it: `info` only explains, `warning` asks someone to act.
import type { ReactNode } from 'react';

export type Severity = 'info' | 'warning';

export function Callout({ severity, testId, children }: { severity: Severity; testId?: string; children: ReactNode }) {
  // A status region: when the server changes what it says, screen readers hear the new text.
  return (
    <p className="callout" data-severity={severity} data-testid={testId} role="status">
      {children}
    </p>
  );
}
