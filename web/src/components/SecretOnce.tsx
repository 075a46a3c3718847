// A secret the server shows once (a credential, a generated password): visible, selectable and
// copyable until dismissed, with a plain warning that it will not be shown again. Optionally a
// link carrying the secret comes first, for sharing everything in one message.
import { useRef, useState, type ReactNode } from 'react';
import { COPY_LABEL, copyOrSelect, type CopyOutcome } from './copy';

function CopyRow({ label, text, testId }: { label?: string; text: string; testId: string }) {
  const shown = useRef<HTMLElement>(null);
  const [outcome, setOutcome] = useState<CopyOutcome | 'idle'>('idle');
  return (
    <div className="secret-row">
      {label ? <span className="secret-label">{label}</span> : null}
      <code className="secret" data-testid={testId} ref={shown}>
        {text}
      </code>
      <button type="button" className="button small" onClick={async () => setOutcome(await copyOrSelect(text, shown.current))}>
        {outcome === 'idle' && label ? `Copy ${label.toLowerCase()}` : COPY_LABEL[outcome]}
      </button>
    </div>
  );
}

export interface SecretOnceProps {
  label: string;
  secret: string;
  /** A link that carries the secret, and a line on how it keeps it. */
  link?: { url: string; note: ReactNode };
  onDone(): void;
}

export function SecretOnce({ label, secret, link, onDone }: SecretOnceProps) {
  return (
    <div className="secret-once" role="region" aria-label={label}>
      <p>
        <strong>{label}</strong> — shown only this once. Copy it now.
      </p>
      {link ? (
        <>
          <CopyRow label="Link" text={link.url} testId="share-link" />
          <p className="secret-note">{link.note}</p>
        </>
      ) : null}
      <CopyRow label={link ? 'Code' : undefined} text={secret} testId="secret" />
      <div className="secret-done">
        <button type="button" className="button small" onClick={onDone}>
          Done
        </button>
      </div>
    </div>
  );
}
