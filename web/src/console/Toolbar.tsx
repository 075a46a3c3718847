// The console's toolbar: keys a browser keeps for itself (Ctrl-Alt-Del, Esc, Tab, F1–F12),
// latched modifiers, the clipboard (or pasting text as keystrokes), the graphical console's
// scaling, and full screen. On a narrow screen the keys fold behind one button, so the bar
// stays one or two rows high.
import { useState } from 'react';
import { SCALINGS, isScaling, type Scaling } from './scaling';

export type Modifier = 'ctrl' | 'alt' | 'shift' | 'meta';

export interface ToolbarProps {
  kind: 'vnc' | 'serial';
  disabled: boolean;
  modifiers: Record<Modifier, boolean>;
  onToggle(modifier: Modifier): void;
  onCtrlAltDel(): void;
  onKey(key: 'Escape' | 'Tab' | `F${number}`): void;
  clipboardOpen: boolean;
  /** The VM put text on its clipboard that the clipboard panel has not shown yet. */
  clipboardUnread: boolean;
  onClipboard(): void;
  scaling: Scaling;
  onScaling(scaling: Scaling): void;
  onFullscreen(): void;
}

const MODIFIERS: Record<'vnc' | 'serial', Modifier[]> = { vnc: ['ctrl', 'alt', 'shift', 'meta'], serial: ['ctrl', 'alt'] };
const LABELS: Record<Modifier, string> = { ctrl: 'Ctrl', alt: 'Alt', shift: 'Shift', meta: 'Super' };

function FunctionKeys({ disabled, onKey }: Pick<ToolbarProps, 'disabled' | 'onKey'>) {
  const [open, setOpen] = useState(false);
  return (
    <span className="fn-keys">
      <button type="button" className="button small" disabled={disabled} aria-expanded={open} onClick={() => setOpen(!open)}>
        F1–F12
      </button>
      {open ? (
        <span className="fn-menu">
          {Array.from({ length: 12 }, (_, i) => (
            <button
              key={i}
              type="button"
              className="button small"
              disabled={disabled}
              onClick={() => {
                onKey(`F${i + 1}`);
                setOpen(false);
              }}
            >
              F{i + 1}
            </button>
          ))}
        </span>
      ) : null}
    </span>
  );
}

export function Toolbar(props: ToolbarProps) {
  const { kind, disabled, modifiers, onToggle, onCtrlAltDel, onKey, clipboardOpen, clipboardUnread, onClipboard, scaling, onScaling, onFullscreen } =
    props;
  const [keysOpen, setKeysOpen] = useState(false);
  return (
    <div className="console-toolbar" role="toolbar" aria-label="Console keys">
      <button type="button" className={`button small keys-toggle toggle${keysOpen ? ' on' : ''}`} aria-expanded={keysOpen} aria-controls="console-keys" onClick={() => setKeysOpen(!keysOpen)}>
        Keys
      </button>
      <div className="toolbar-keys" id="console-keys" role="group" aria-label="Keys" data-open={keysOpen}>
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
        <FunctionKeys disabled={disabled} onKey={onKey} />
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
      </div>
      <button
        type="button"
        className={`button small toggle${clipboardOpen ? ' on' : ''}`}
        aria-pressed={clipboardOpen}
        disabled={disabled}
        onClick={onClipboard}
      >
        {kind === 'vnc' ? 'Clipboard' : 'Paste text'}
        {clipboardUnread ? (
          <span className="unread" data-testid="clipboard-unread">
            {' '}
            • new
          </span>
        ) : null}
      </button>
      {kind === 'vnc' ? (
        <select
          className="scaling"
          aria-label="Screen size"
          value={scaling}
          title={SCALINGS.find((s) => s.value === scaling)?.title}
          onChange={(event) => {
            if (isScaling(event.target.value)) onScaling(event.target.value);
          }}
        >
          {SCALINGS.map((s) => (
            <option key={s.value} value={s.value} title={s.title}>
              {s.label}
            </option>
          ))}
        </select>
      ) : null}
      <button type="button" className="button small" onClick={onFullscreen}>
        Full screen
      </button>
    </div>
  );
}
