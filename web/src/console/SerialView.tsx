// A serial console in xterm.js: bytes from the websocket are written to the terminal, typed
// keys are sent as bytes. The terminal lives as long as the page, across reconnections.
//
// A guest prints on its serial console only when something happens, so a console opened on an
// idle guest stays blank, which looks broken. When nothing arrives soon after connecting, a hint
// says what to do; the first byte takes it away.
import { forwardRef, useEffect, useImperativeHandle, useRef, useState } from 'react';
import { Terminal } from '@xterm/xterm';
import { FitAddon } from '@xterm/addon-fit';
import '@xterm/xterm/css/xterm.css';
import type { Attachment } from './useConsoleConnection';
import { applySerialModifiers, type Modifiers } from './keys';

export interface SerialHandle {
  attach(socket: WebSocket, viewOnly: boolean): Attachment;
  send(text: string): void;
  focus(): void;
}

const encoder = new TextEncoder();

/** How long a connection may stay silent before the hint shows. */
export const SILENCE_HINT_MS = 1_500;

export const SerialView = forwardRef<SerialHandle, { modifiers: Modifiers; onModifiersUsed(): void }>(function SerialView(
  { modifiers, onModifiersUsed },
  ref,
) {
  const container = useRef<HTMLDivElement>(null);
  const terminal = useRef<Terminal | null>(null);
  const socket = useRef<WebSocket | null>(null);
  const latched = useRef({ modifiers, onModifiersUsed });
  latched.current = { modifiers, onModifiersUsed };
  const [silent, setSilent] = useState<'can type' | 'view only' | null>(null);

  useEffect(() => {
    const term = new Terminal({ convertEol: false, cursorBlink: true, scrollback: 5000, fontSize: 15 });
    const fit = new FitAddon();
    term.loadAddon(fit);
    term.open(container.current!);
    fit.fit();
    const resize = new ResizeObserver(() => fit.fit());
    resize.observe(container.current!);
    const typed = term.onData((data) => {
      const { modifiers: mods, onModifiersUsed: used } = latched.current;
      const bytes = mods.ctrl || mods.alt ? applySerialModifiers(data, mods) : data;
      if (mods.ctrl || mods.alt) used();
      const open = socket.current;
      if (open?.readyState === WebSocket.OPEN) open.send(encoder.encode(bytes));
    });
    terminal.current = term;
    term.focus();
    return () => {
      typed.dispose();
      resize.disconnect();
      term.dispose();
      terminal.current = null;
    };
  }, []);

  useImperativeHandle(ref, () => ({
    attach(next, viewOnly) {
      const term = terminal.current!;
      term.options.disableStdin = viewOnly;
      socket.current = next;
      let heard = false;
      let silence: ReturnType<typeof setTimeout> | undefined;
      const awaitOutput = () => {
        silence = setTimeout(() => setSilent(viewOnly ? 'view only' : 'can type'), SILENCE_HINT_MS);
      };
      const onMessage = (event: MessageEvent) => {
        if (!heard) {
          heard = true;
          clearTimeout(silence);
          setSilent(null);
        }
        if (event.data instanceof ArrayBuffer) term.write(new Uint8Array(event.data));
        else if (typeof event.data === 'string') term.write(event.data);
      };
      next.addEventListener('message', onMessage);
      if (next.readyState === WebSocket.OPEN) awaitOutput();
      else next.addEventListener('open', awaitOutput);
      return {
        detach() {
          next.removeEventListener('message', onMessage);
          next.removeEventListener('open', awaitOutput);
          clearTimeout(silence);
          setSilent(null);
          if (socket.current === next) socket.current = null;
        },
      };
    },
    send(text) {
      const open = socket.current;
      if (open?.readyState === WebSocket.OPEN) open.send(encoder.encode(text));
      terminal.current?.focus();
    },
    focus() {
      terminal.current?.focus();
    },
  }));

  return (
    <>
      <div className="terminal" ref={container} data-testid="serial-terminal" />
      {silent ? (
        <p className="serial-hint" role="status" data-testid="serial-hint">
          {silent === 'can type' ? 'Nothing printed yet — press Enter to get a prompt' : 'Nothing printed yet'}
        </p>
      ) : null}
    </>
  );
});
