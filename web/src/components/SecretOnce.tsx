// A secret the server shows once (a credential, a generated password): visible, selectable and
// copyable until dismissed, with a plain warning that it will not be shown again.
import { useState } from 'react';

export function SecretOnce({ label, secret, onDone }: { label: string; secret: string; onDone(): void }) {
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(secret);
      setCopied(true);
    } catch {
      setCopied(false);
    }
  };
  return (
    <div className="secret-once" role="region" aria-label={label}>
      <p>
        <strong>{label}</strong> — shown only this once. Copy it now.
      </p>
      <div className="secret-row">
        <code className="secret" data-testid="secret">
          {secret}
        </code>
        <button type="button" className="button small" onClick={copy}>
          {copied ? 'Copied' : 'Copy'}
        </button>
        <button type="button" className="button small" onClick={onDone}>
          Done
        </button>
      </div>
    </div>
  );
}
