// The console screen's wiring to noVNC and xterm.js, with both replaced by fakes: the clipboard
// both ways, the scaling choice, and the hint on a serial console that stays silent. (The test
// guest of the browser tests has no graphical desktop, so the VM side of a clipboard can only be
// seen here.)
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { act, cleanup, fireEvent, render, screen } from '@testing-library/react';
import { ConsoleScreen, type ConsoleKind } from '../../src/console/ConsoleScreen';

const fakes = vi.hoisted(() => {
  class FakeRfb extends EventTarget {
    static made: FakeRfb[] = [];
    viewOnly = false;
    focusOnClick = false;
    scaleViewport = false;
    resizeSession = false;
    clipViewport = false;
    background = '';
    pasted: string[] = [];
    constructor() {
      super();
      FakeRfb.made.push(this);
    }
    clipboardPasteFrom(text: string) {
      this.pasted.push(text);
    }
    disconnect() {}
    sendKey() {}
    sendCtrlAltDel() {}
    focus() {}
  }
  class FakeTerminal {
    static made: FakeTerminal[] = [];
    options: Record<string, unknown> = {};
    written: unknown[] = [];
    constructor() {
      FakeTerminal.made.push(this);
    }
    loadAddon() {}
    open() {}
    focus() {}
    dispose() {}
    onData() {
      return { dispose() {} };
    }
    write(data: unknown) {
      this.written.push(data);
    }
  }
  return { FakeRfb, FakeTerminal };
});

vi.mock('@novnc/novnc', () => ({ default: fakes.FakeRfb }));
vi.mock('@xterm/xterm', () => ({ Terminal: fakes.FakeTerminal }));
vi.mock('@xterm/addon-fit', () => ({ FitAddon: class { fit() {} } }));

class FakeSocket extends EventTarget {
  static OPEN = 1;
  static CLOSED = 3;
  static made: FakeSocket[] = [];
  readyState = 0;
  binaryType = 'blob';
  constructor(public url: string) {
    super();
    FakeSocket.made.push(this);
  }
  send() {}
  open() {
    this.readyState = FakeSocket.OPEN;
    this.dispatchEvent(new Event('open'));
  }
  close() {
    this.readyState = FakeSocket.CLOSED;
  }
}

async function openConsole(kind: ConsoleKind, viewOnly = false) {
  render(
    <ConsoleScreen
      kind={kind}
      requestTicket={async () => ({ ticket: { url: '/console/ws?ticket=t', vmId: 'v', vmName: 'lab', viewOnly } })}
      back={null}
      onSwitchKind={() => {}}
    />,
  );
  await act(async () => {});
  act(() => FakeSocket.made.at(-1)!.open());
  return FakeSocket.made.at(-1)!;
}

beforeEach(() => {
  FakeSocket.made = [];
  fakes.FakeRfb.made = [];
  fakes.FakeTerminal.made = [];
  localStorage.clear();
  vi.stubGlobal('WebSocket', FakeSocket);
  vi.stubGlobal(
    'ResizeObserver',
    class {
      observe() {}
      disconnect() {}
    },
  );
});
afterEach(() => {
  cleanup();
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

describe("the graphical console's clipboard", () => {
  it('sends the text typed in the panel to the VM clipboard', async () => {
    await openConsole('vnc');
    fireEvent.click(screen.getByRole('button', { name: /^Clipboard/ }));
    const send = screen.getByRole('button', { name: 'Send to VM clipboard' });
    expect(send).toBeDisabled();
    fireEvent.change(screen.getByLabelText('Text for the VM'), { target: { value: 'hello, VM' } });
    fireEvent.click(send);
    expect(fakes.FakeRfb.made[0].pasted).toEqual(['hello, VM']);
    expect(screen.getByTestId('clipboard-sent')).toHaveTextContent("On the VM's clipboard");
  });

  it('shows what the VM copied, flags it while the panel is closed, and copies it here', async () => {
    const writeText = vi.fn(async () => {});
    vi.stubGlobal('navigator', { ...navigator, clipboard: { writeText } });
    await openConsole('vnc');
    expect(screen.queryByTestId('clipboard-unread')).toBeNull();
    act(() => {
      fakes.FakeRfb.made[0].dispatchEvent(new CustomEvent('clipboard', { detail: { text: 'from the VM' } }));
    });
    expect(screen.getByTestId('clipboard-unread')).toBeInTheDocument();
    fireEvent.click(screen.getByRole('button', { name: /^Clipboard/ }));
    expect(screen.queryByTestId('clipboard-unread')).toBeNull();
    expect(screen.getByLabelText("From the VM's clipboard")).toHaveValue('from the VM');
    await act(async () => {
      fireEvent.click(screen.getByRole('button', { name: 'Copy' }));
    });
    expect(writeText).toHaveBeenCalledWith('from the VM');
    expect(screen.getByRole('button', { name: 'Copied' })).toBeInTheDocument();
  });

  it('selects the text to copy where the Clipboard API is missing', async () => {
    vi.stubGlobal('navigator', { ...navigator, clipboard: undefined });
    await openConsole('vnc');
    fireEvent.click(screen.getByRole('button', { name: /^Clipboard/ }));
    act(() => {
      fakes.FakeRfb.made[0].dispatchEvent(new CustomEvent('clipboard', { detail: { text: 'select me' } }));
    });
    await act(async () => {
      fireEvent.click(screen.getByRole('button', { name: 'Copy' }));
    });
    const received = screen.getByLabelText<HTMLTextAreaElement>("From the VM's clipboard");
    expect([received.selectionStart, received.selectionEnd]).toEqual([0, 'select me'.length]);
    expect(screen.getByRole('button', { name: 'Selected: press Ctrl+C' })).toBeInTheDocument();
  });
});

describe("the graphical console's scaling", () => {
  it('fits by default, applies a choice at once and remembers it for the next console', async () => {
    await openConsole('vnc');
    const [rfb] = fakes.FakeRfb.made;
    expect([rfb.scaleViewport, rfb.resizeSession]).toEqual([true, false]);
    fireEvent.change(screen.getByRole('combobox', { name: 'Screen size' }), { target: { value: 'actual' } });
    expect([rfb.scaleViewport, rfb.resizeSession, rfb.clipViewport]).toEqual([false, false, false]);
    fireEvent.change(screen.getByRole('combobox', { name: 'Screen size' }), { target: { value: 'remote' } });
    expect([rfb.scaleViewport, rfb.resizeSession]).toEqual([true, true]);
    expect(localStorage.getItem('distribox.vncScaling')).toBe('remote');

    cleanup();
    await openConsole('vnc');
    expect(screen.getByRole('combobox', { name: 'Screen size' })).toHaveValue('remote');
    expect(fakes.FakeRfb.made.at(-1)!.resizeSession).toBe(true);
  });
});

describe('a serial console that stays silent', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });

  it('says to press Enter after 1.5 s without output, until the first byte', async () => {
    const socket = await openConsole('serial');
    act(() => vi.advanceTimersByTime(1_400));
    expect(screen.queryByTestId('serial-hint')).toBeNull();
    act(() => vi.advanceTimersByTime(200));
    expect(screen.getByTestId('serial-hint')).toHaveTextContent('Nothing printed yet — press Enter to get a prompt');
    act(() => {
      socket.dispatchEvent(new MessageEvent('message', { data: '~ # ' }));
    });
    expect(screen.queryByTestId('serial-hint')).toBeNull();
    expect(fakes.FakeTerminal.made[0].written).toEqual(['~ # ']);
  });

  it('says nothing when the guest answers in time', async () => {
    const socket = await openConsole('serial');
    act(() => {
      socket.dispatchEvent(new MessageEvent('message', { data: 'login: ' }));
    });
    act(() => vi.advanceTimersByTime(5_000));
    expect(screen.queryByTestId('serial-hint')).toBeNull();
  });

  it('does not tell a viewer who cannot type to press Enter', async () => {
    await openConsole('serial', true);
    act(() => vi.advanceTimersByTime(2_000));
    expect(screen.getByTestId('serial-hint')).toHaveTextContent(/^Nothing printed yet$/);
  });
});
