import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { act, renderHook } from '@testing-library/react';
import { useConsoleConnection, type Ticket, type TicketResult } from '../../src/console/useConsoleConnection';

/** A websocket the test opens and closes by hand. */
class FakeSocket extends EventTarget {
  static CONNECTING = 0;
  static OPEN = 1;
  static CLOSING = 2;
  static CLOSED = 3;
  static made: FakeSocket[] = [];
  readyState = FakeSocket.CONNECTING;
  binaryType = 'blob';
  onclose: ((event: CloseEvent) => void) | null = null;
  constructor(public url: string) {
    super();
    FakeSocket.made.push(this);
  }
  send() {}
  open() {
    this.readyState = FakeSocket.OPEN;
    this.dispatchEvent(new Event('open'));
  }
  close(code = 1000, reason = '') {
    this.readyState = FakeSocket.CLOSED;
    const event = new CloseEvent('close', { code, reason });
    this.onclose?.(event);
    this.dispatchEvent(event);
  }
}

const ticket: Ticket = { url: '/console/ws?ticket=t', vmId: 'v', vmName: 'vm', viewOnly: false };

describe('a console connection', () => {
  beforeEach(() => {
    FakeSocket.made = [];
    vi.stubGlobal('WebSocket', FakeSocket);
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
    vi.unstubAllGlobals();
  });

  async function connect(viewer: (socket: WebSocket) => void = () => {}) {
    const requestTicket = vi.fn(async (): Promise<TicketResult> => ({ ticket }));
    const hook = renderHook(() =>
      useConsoleConnection(requestTicket, (socket) => {
        viewer(socket);
        return { detach() {} };
      }),
    );
    await act(async () => {});
    act(() => FakeSocket.made.at(-1)!.open());
    expect(hook.result.current.state.phase).toBe('connected');
    return { hook, requestTicket };
  }

  it('notices the close even when the viewer takes `onclose` over, as noVNC does', async () => {
    const { hook } = await connect((socket) => {
      socket.onclose = () => {};
    });
    act(() => FakeSocket.made[0].close(4001, 'the credential was revoked'));
    expect(hook.result.current.state.phase).toBe('ended');
    expect(hook.result.current.state.ending?.message).toBe('Access was revoked: the credential was revoked.');
  });

  it('never asks again after a revocation', async () => {
    const { hook, requestTicket } = await connect();
    act(() => FakeSocket.made[0].close(4001, 'revoked'));
    await act(async () => vi.advanceTimersByTime(60_000));
    expect(requestTicket).toHaveBeenCalledTimes(1);
    expect(hook.result.current.state.phase).toBe('ended');
  });

  it('after a blip, waits, takes a new ticket and connects again', async () => {
    const { hook, requestTicket } = await connect();
    act(() => FakeSocket.made[0].close(1006));
    expect(hook.result.current.state.phase).toBe('waiting');
    expect(hook.result.current.state.retryAt).not.toBeNull();
    await act(async () => vi.advanceTimersByTime(1_000));
    expect(requestTicket).toHaveBeenCalledTimes(2);
    act(() => FakeSocket.made[1].open());
    expect(hook.result.current.state.phase).toBe('connected');
  });

  it('closes its socket when the page goes away, and does not come back', async () => {
    const { hook, requestTicket } = await connect();
    const socket = FakeSocket.made[0];
    hook.unmount();
    expect(socket.readyState).toBe(FakeSocket.CLOSED);
    await act(async () => vi.advanceTimersByTime(60_000));
    expect(requestTicket).toHaveBeenCalledTimes(1);
  });
});
