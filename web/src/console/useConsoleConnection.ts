// One console's connection over its whole life: ask for a ticket, open the websocket, hand it
// to the viewer (xterm.js or noVNC), and when it closes decide from the close code whether to
// try again on its own (a network blip), offer a button (the VM stopped), or stop (revoked,
// expired). Every attempt needs a new ticket: tickets are single-use.
import { useCallback, useEffect, useRef, useState } from 'react';
import type { ApiProblem } from '../api/errors';
import { backoffMs, describeClose, describeTicketProblem, type Ending } from './closing';

export interface Ticket {
  url: string;
  vmId: string;
  vmName: string;
  viewOnly: boolean;
  endsAt?: string | null;
}

export type TicketResult = { ticket: Ticket } | { problem: ApiProblem };

export type Phase = 'connecting' | 'connected' | 'waiting' | 'ended';

export interface ConsoleState {
  phase: Phase;
  ticket: Ticket | null;
  /** Why the last connection ended (shown while waiting or ended). */
  ending: Ending | null;
  /** When the next automatic attempt starts (phase 'waiting'). */
  retryAt: number | null;
}

/** A viewer attached to one websocket; `detach` drops it without closing the page. */
export interface Attachment {
  detach(): void;
}

export function socketUrl(path: string): string {
  const url = new URL(path, window.location.href);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return url.toString();
}

export function useConsoleConnection(
  requestTicket: () => Promise<TicketResult>,
  attach: (socket: WebSocket, ticket: Ticket) => Attachment,
  protocols: string[] = [],
) {
  const [state, setState] = useState<ConsoleState>({ phase: 'connecting', ticket: null, ending: null, retryAt: null });
  const attempt = useRef(0);
  const generation = useRef(0);
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const current = useRef<{ socket: WebSocket; attachment: Attachment; onClose: (event: CloseEvent) => void } | null>(null);
  const request = useRef(requestTicket);
  const attachRef = useRef(attach);
  request.current = requestTicket;
  attachRef.current = attach;

  const drop = () => {
    if (timer.current) clearTimeout(timer.current);
    timer.current = null;
    const live = current.current;
    current.current = null;
    if (live) {
      live.socket.removeEventListener('close', live.onClose);
      live.attachment.detach();
      if (live.socket.readyState <= WebSocket.OPEN) live.socket.close(1000, 'viewer left');
    }
  };

  const connect = useCallback(async () => {
    drop();
    const mine = ++generation.current;
    setState((s) => ({ ...s, phase: 'connecting', retryAt: null }));
    const ended = (ending: Ending) => {
      if (mine !== generation.current) return;
      if (ending.retry === 'auto') {
        const wait = backoffMs(attempt.current++);
        setState((s) => ({ ...s, phase: 'waiting', ending, retryAt: Date.now() + wait }));
        timer.current = setTimeout(() => void connect(), wait);
      } else {
        setState((s) => ({ ...s, phase: 'ended', ending, retryAt: null }));
      }
    };
    let result: TicketResult;
    try {
      result = await request.current();
    } catch {
      result = { problem: { code: 'NETWORK', message: 'Cannot reach Distribox.' } };
    }
    if (mine !== generation.current) return;
    if ('problem' in result) {
      ended(describeTicketProblem(result.problem.code, result.problem.message));
      return;
    }
    const { ticket } = result;
    const socket = new WebSocket(socketUrl(ticket.url), protocols);
    socket.binaryType = 'arraybuffer';
    socket.addEventListener('open', () => {
      if (mine !== generation.current) return;
      attempt.current = 0;
      setState({ phase: 'connected', ticket, ending: null, retryAt: null });
    });
    // A listener, not `onclose`: noVNC takes `onclose` over when it attaches to the socket.
    const onClose = (event: CloseEvent) => {
      if (mine !== generation.current) return;
      current.current?.attachment.detach();
      current.current = null;
      ended(describeClose(event.code, event.reason));
    };
    socket.addEventListener('close', onClose);
    current.current = { socket, attachment: attachRef.current(socket, ticket), onClose };
    setState((s) => ({ ...s, ticket }));
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  useEffect(() => {
    void connect();
    // Back online: don't wait for the backoff.
    const online = () => {
      if (timer.current) void connect();
    };
    window.addEventListener('online', online);
    return () => {
      window.removeEventListener('online', online);
      generation.current++;
      drop();
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [connect]);

  return { state, reconnect: connect };
}
