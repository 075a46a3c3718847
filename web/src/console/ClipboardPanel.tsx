// Text between this computer and the VM. Browsers let a page read the clipboard only when asked
// each time, so nothing happens silently: the person pastes into the box, then types it into
// the console as keystrokes or (graphical consoles) puts it on the VM's clipboard; what the VM
// copies shows below, with a button to copy it here.
import { useRef, useState, type FormEvent } from 'react';
import { COPY_LABEL, copyOrSelect, type CopyOutcome } from '../components/copy';
import type { ConsoleKind } from './ConsoleScreen';

export interface ClipboardPanelProps {
  kind: ConsoleKind;
  disabled: boolean;
  /** The last text the VM put on its clipboard, if any (graphical consoles). */
  received: string | null;
  onType(text: string): void;
  onSendClipboard(text: string): void;
  onClose(): void;
}

/** The VM's last clipboard text, with a button to copy it here. */
function FromVm({ text }: { text: string | null }) {
  const shown = useRef<HTMLTextAreaElement>(null);
  const [outcome, setOutcome] = useState<CopyOutcome | 'idle'>('idle');
  if (text === null) {
    return (
      <div className="stack">
        <p className="clipboard-heading">From the VM&apos;s clipboard</p>
        <p className="hint" data-testid="clipboard-received">
          Nothing yet: text copied inside the VM shows up here.
        </p>
      </div>
    );
  }
  return (
    <div className="stack">
      <label htmlFor="clipboard-received">From the VM&apos;s clipboard</label>
      <textarea id="clipboard-received" ref={shown} readOnly rows={3} value={text} data-testid="clipboard-received" />
      <div className="clipboard-actions">
        <button type="button" className="button small" onClick={async () => setOutcome(await copyOrSelect(text, shown.current))}>
          {COPY_LABEL[outcome]}
        </button>
      </div>
    </div>
  );
}

export function ClipboardPanel({ kind, disabled, received, onType, onSendClipboard, onClose }: ClipboardPanelProps) {
  const [text, setText] = useState('');
  const [sent, setSent] = useState(false);
  const graphical = kind === 'vnc';

  const type = () => {
    onType(text);
    setText('');
    onClose();
  };
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (!text) return;
    if (!graphical) {
      type();
      return;
    }
    onSendClipboard(text);
    setSent(true);
  };

  return (
    <section className="clipboard-panel" aria-label={graphical ? 'Clipboard' : 'Paste text'} data-testid="clipboard-panel">
      <form className="stack" onSubmit={submit}>
        <label htmlFor="clipboard-text">{graphical ? 'Text for the VM' : 'Text to type into the console'}</label>
        <textarea
          id="clipboard-text"
          rows={3}
          value={text}
          autoFocus
          placeholder="Paste here (Ctrl+V)"
          onChange={(event) => {
            setText(event.target.value);
            setSent(false);
          }}
        />
        <div className="clipboard-actions">
          {graphical ? (
            <>
              <button type="submit" className="button small primary" disabled={disabled || !text}>
                Send to VM clipboard
              </button>
              <button type="button" className="button small" disabled={disabled || !text} onClick={type}>
                Type it
              </button>
            </>
          ) : (
            <button type="submit" className="button small primary" disabled={disabled || !text}>
              Type it
            </button>
          )}
          <button type="button" className="button small" onClick={onClose}>
            Close
          </button>
        </div>
        {sent ? (
          <p className="hint" role="status" data-testid="clipboard-sent">
            On the VM&apos;s clipboard: paste it there.
          </p>
        ) : null}
      </form>
      {/* Keyed by the text, so a new text starts with a fresh Copy button. */}
      {graphical ? <FromVm key={received ?? ''} text={received} /> : null}
    </section>
  );
}
