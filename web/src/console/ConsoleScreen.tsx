// The full-screen console both kinds of visitor get: the VM's screen or terminal, the toolbar,
// the clipboard, the connection's state, and plain words when it ends (revoked, expired, the VM
// stopped).
import { useCallback, useEffect, useRef, useState, type ReactNode } from 'react';
import { relativeTime } from '../format';
import { ClipboardPanel } from './ClipboardPanel';
import type { Ending } from './closing';
import { functionKeysym, functionSequence, KEYSYM, keysymsForText } from './keys';
import { savedScaling, saveScaling, type Scaling } from './scaling';
import { SerialView, type SerialHandle } from './SerialView';
import { Toolbar, type Modifier } from './Toolbar';
import { useConsoleConnection, type Ticket, type TicketResult } from './useConsoleConnection';
import { VncView, type VncHandle } from './VncView';

export type ConsoleKind = 'vnc' | 'serial';

const MODIFIER_KEYSYMS: Record<Modifier, number> = {
  ctrl: KEYSYM.Control_L,
  alt: KEYSYM.Alt_L,
  shift: KEYSYM.Shift_L,
  meta: KEYSYM.Super_L,
};
const NO_MODIFIERS: Record<Modifier, boolean> = { ctrl: false, alt: false, shift: false, meta: false };

export interface ConsoleScreenProps {
  kind: ConsoleKind;
  requestTicket(): Promise<TicketResult>;
  /** Shown at the top left: a way back (the dashboard, or forgetting the access code). */
  back: ReactNode;
  /** Opens the other kind of console of the same VM. */
  onSwitchKind(kind: ConsoleKind): void;
  /** Told when the console ended and will not reconnect by itself. */
  onEnded?(ending: Ending): void;
}

function Countdown({ until }: { until: string }) {
  const [, tick] = useState(0);
  useEffect(() => {
    const timer = setInterval(() => tick((n) => n + 1), 15_000);
    return () => clearInterval(timer);
  }, []);
  return <span className="muted">access ends {relativeTime(until)}</span>;
}

/** "Trying again in 4 s", counting down. */
function RetryIn({ at }: { at: number }) {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 500);
    return () => clearInterval(timer);
  }, []);
  return <span className="muted">Trying again in {Math.max(0, Math.ceil((at - now) / 1000))} s.</span>;
}

export function ConsoleScreen({ kind, requestTicket, back, onSwitchKind, onEnded }: ConsoleScreenProps) {
  const root = useRef<HTMLDivElement>(null);
  const serial = useRef<SerialHandle>(null);
  const vnc = useRef<VncHandle>(null);
  const [modifiers, setModifiers] = useState(NO_MODIFIERS);
  const [clipboard, setClipboard] = useState<{ open: boolean; received: string | null; unread: boolean }>({
    open: false,
    received: null,
    unread: false,
  });
  const [scaling, setScaling] = useState<Scaling>(() => savedScaling());

  const attach = useCallback(
    (socket: WebSocket, ticket: Ticket) =>
      kind === 'serial' ? serial.current!.attach(socket, ticket.viewOnly) : vnc.current!.attach(socket, ticket.viewOnly),
    [kind],
  );
  const { state, reconnect } = useConsoleConnection(requestTicket, attach, kind === 'vnc' ? ['binary'] : []);
  const ticket = state.ticket;
  const viewOnly = ticket?.viewOnly ?? false;
  const connected = state.phase === 'connected';

  useEffect(() => {
    document.title = ticket ? `${ticket.vmName} — ${kind === 'vnc' ? 'console' : 'serial console'}` : 'Console — Distribox';
    return () => {
      document.title = 'Distribox';
    };
  }, [ticket, kind]);
  // A new connection starts with no key held down.
  useEffect(() => {
    if (state.phase !== 'connected') setModifiers(NO_MODIFIERS);
  }, [state.phase]);
  // The page hears of each ending once (the access code page forgets a revoked code).
  const ended = state.phase === 'ended' ? state.ending : null;
  const endedRef = useRef(onEnded);
  endedRef.current = onEnded;
  useEffect(() => {
    if (ended) endedRef.current?.(ended);
  }, [ended]);

  const tapVnc = (keysym: number) => {
    const rfb = vnc.current?.rfb();
    rfb?.sendKey(keysym, null, true);
    rfb?.sendKey(keysym, null, false);
    rfb?.focus();
  };
  const onKey = (key: 'Escape' | 'Tab' | `F${number}`) => {
    if (kind === 'serial') {
      serial.current?.send(key === 'Escape' ? '\x1b' : key === 'Tab' ? '\t' : functionSequence(Number(key.slice(1))));
    } else {
      tapVnc(key === 'Escape' ? KEYSYM.Escape : key === 'Tab' ? KEYSYM.Tab : functionKeysym(Number(key.slice(1))));
    }
  };
  const onToggle = (modifier: Modifier) => {
    const down = !modifiers[modifier];
    if (kind === 'vnc') vnc.current?.rfb()?.sendKey(MODIFIER_KEYSYMS[modifier], null, down);
    setModifiers({ ...modifiers, [modifier]: down });
    if (kind === 'serial') serial.current?.focus();
    else vnc.current?.rfb()?.focus();
  };
  const onType = (text: string) => {
    if (kind === 'serial') serial.current?.send(text.replace(/\r?\n/g, '\r'));
    else for (const keysym of keysymsForText(text)) tapVnc(keysym);
  };
  const onVmClipboard = (text: string) => setClipboard((c) => ({ ...c, received: text, unread: !c.open }));
  const toggleClipboard = () => setClipboard((c) => ({ ...c, open: !c.open, unread: false }));
  const onScaling = (next: Scaling) => {
    setScaling(next);
    saveScaling(next);
  };
  const onFullscreen = () => {
    if (document.fullscreenElement) void document.exitFullscreen();
    else void root.current?.requestFullscreen?.();
  };

  return (
    <div className="console-view" ref={root} data-phase={state.phase} data-kind={kind}>
      <div className="console-bar">
        {back}
        <h1>
          {ticket?.vmName ?? 'Console'} <span className="muted">{kind === 'vnc' ? 'graphical' : 'serial'}</span>
        </h1>
        {viewOnly ? (
          <span className="badge view-only" data-testid="view-only">
            View only
          </span>
        ) : null}
        <button type="button" className="link switch-kind" data-testid="switch-kind" onClick={() => onSwitchKind(kind === 'vnc' ? 'serial' : 'vnc')}>
          {kind === 'vnc' ? 'Switch to serial' : 'Switch to graphical'}
        </button>
        <span className="conn-status" role="status" data-testid="console-status">
          <span className="conn-dot" data-kind={connected ? 'ok' : state.phase === 'ended' ? 'error' : 'busy'} aria-hidden="true" />
          {connected ? 'Connected' : state.phase === 'ended' ? 'Disconnected' : state.phase === 'waiting' ? 'Reconnecting…' : 'Connecting…'}
        </span>
        {ticket?.endsAt ? <Countdown until={ticket.endsAt} /> : null}
      </div>
      {!viewOnly ? (
        <Toolbar
          kind={kind}
          disabled={!connected}
          modifiers={modifiers}
          onToggle={onToggle}
          onCtrlAltDel={() => vnc.current?.rfb()?.sendCtrlAltDel()}
          onKey={onKey}
          clipboardOpen={clipboard.open}
          clipboardUnread={clipboard.unread}
          onClipboard={toggleClipboard}
          scaling={scaling}
          onScaling={onScaling}
          onFullscreen={onFullscreen}
        />
      ) : null}
      {state.ending && state.phase !== 'connected' ? (
        <div className={`console-message${state.phase === 'ended' ? ' ended' : ''}`} role="alert" data-testid="console-message">
          <p>{state.ending.message}</p>
          {state.phase === 'waiting' && state.retryAt ? (
            <p>
              <RetryIn at={state.retryAt} />{' '}
              <button type="button" className="button small" onClick={() => void reconnect()}>
                Try now
              </button>
            </p>
          ) : null}
          {state.phase === 'ended' && state.ending.retry === 'manual' ? (
            <button type="button" className="button primary" onClick={() => void reconnect()}>
              Reconnect
            </button>
          ) : null}
        </div>
      ) : null}
      <div className="console-body">
        {clipboard.open && !viewOnly ? (
          <ClipboardPanel
            kind={kind}
            disabled={!connected}
            received={clipboard.received}
            onType={onType}
            onSendClipboard={(text) => vnc.current?.rfb()?.clipboardPasteFrom(text)}
            onClose={() => setClipboard((c) => ({ ...c, open: false }))}
          />
        ) : null}
        {kind === 'serial' ? (
          <SerialView
            ref={serial}
            modifiers={modifiers}
            onModifiersUsed={() => setModifiers((m) => ({ ...m, ctrl: false, alt: false }))}
          />
        ) : (
          <VncView ref={vnc} scaling={scaling} onClipboard={onVmClipboard} />
        )}
      </div>
    </div>
  );
}
