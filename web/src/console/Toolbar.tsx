// The console's toolbar: keys a browser keeps for itself (Ctrl-Alt-Del, Esc, Tab, F1–F12),
// latched modifiers, pasting text as keystrokes, and full screen.
import { useState, type FormEvent } from 'react';

export type Modifier = 'ctrl' | 'alt' | 'shift' | 'meta';

export interface ToolbarProps {
  kind: 'vnc' | 'serial';
  disabled: boolean;
  modifiers: Record<Modifier, boolean>;
  onToggle(modifier: Modifier): void;
  onCtrlAltDel(): void;
  onKey(key: 'Escape' | 'Tab' | `F${number}`): void;
  onPaste(text: string): void;
  onFullscreen(): void;
}

const MODIFIERS: Record<'vnc' | 'serial', Modifier[]> = { vnc: ['ctrl', 'alt', 'shift', 'meta'], serial: ['ctrl', 'alt'] };
const LABELS: Record<Modifier, string> = { ctrl: 'Ctrl', alt: 'Alt', shift: 'Shift', meta: 'Super' };

export function Toolbar({ kind, disabled, modifiers, onToggle, onCtrlAltDel, onKey, onPaste, onFullscreen }: ToolbarProps) {
  const [pasting, setPasting] = useState(false);
  const [text, setText] = useState('');
  const [fnOpen, setFnOpen] = useState(false);
  const paste = (event: FormEvent) => {
    event.preventDefault();
    if (text) onPaste(text);
    setText('');
    setPasting(false);
  };
  return (
    <div className="console-toolbar" role="toolbar" aria-label="Console keys">
      {kind === 'vnc' ? (
        <button type="button" className="button small" disabled={disabled} onClick={onCtrlAltDel}>
          Ctrl-Alt-Del
        </button>
      ) : null}
      <button type="button" className="button small" disabled={disabled} onClick={() => onKey('Escape')}>
        Esc
      </button>
      <button type="button" className="button small" disabled={disabled} onClick={() => onKey('Tab')}>
        Tab
      </button>
      <span className="fn-keys">
        <button type="button" className="button small" disabled={disabled} aria-expanded={fnOpen} onClick={() => setFnOpen(!fnOpen)}>
          F1–F12
        </button>
        {fnOpen ? (
          <span className="fn-menu">
            {Array.from({ length: 12 }, (_, i) => (
              <button
                key={i}
                type="button"
                className="button small"
                disabled={disabled}
                onClick={() => {
                  onKey(`F${i + 1}`);
                  setFnOpen(false);
                }}
              >
                F{i + 1}
              </button>
            ))}
          </span>
        ) : null}
      </span>
      {MODIFIERS[kind].map((modifier) => (
        <button
          key={modifier}
          type="button"
          className={`button small toggle${modifiers[modifier] ? ' on' : ''}`}
          aria-pressed={modifiers[modifier]}
          disabled={disabled}
          onClick={() => onToggle(modifier)}
        >
          {LABELS[modifier]}
        </button>
      ))}
      {pasting ? (
        <form className="paste-form" onSubmit={paste}>
          <label className="visually-hidden" htmlFor="paste-text">
            Text to type into the console
          </label>
          <textarea id="paste-text" rows={2} value={text} onChange={(e) => setText(e.target.value)} autoFocus placeholder="Text to type" />
          <button type="submit" className="button small primary">
            Type it
          </button>
          <button type="button" className="button small" onClick={() => setPasting(false)}>
            Cancel
          </button>
        </form>
      ) : (
        <button type="button" className="button small" disabled={disabled} onClick={() => setPasting(true)}>
          Paste text
        </button>
      )}
      <button type="button" className="button small" onClick={onFullscreen}>
        Full screen
      </button>
    </div>
  );
}
