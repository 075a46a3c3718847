// The parts of noVNC's RFB class (docs/API.md) the console uses; the package ships no types.
declare module '@novnc/novnc' {
  export interface RfbOptions {
    shared?: boolean;
    credentials?: { username?: string; password?: string; target?: string };
    wsProtocols?: string[];
  }
  /** Text the server put on the VM's clipboard. */
  export type RfbClipboardEvent = CustomEvent<{ text: string }>;
  export default class RFB extends EventTarget {
    constructor(target: HTMLElement, urlOrChannel: string | WebSocket, options?: RfbOptions);
    viewOnly: boolean;
    focusOnClick: boolean;
    /** Scale the remote screen to fit its container. */
    scaleViewport: boolean;
    /** Ask the server to resize the remote screen to the container (only sent where it can). */
    resizeSession: boolean;
    /** Clip the remote screen to its container instead of letting it scroll. */
    clipViewport: boolean;
    background: string;
    disconnect(): void;
    sendCtrlAltDel(): void;
    sendKey(keysym: number, code: string | null, down?: boolean): void;
    focus(): void;
    blur(): void;
    /** Puts `text` on the VM's clipboard (RFB ClientCutText). */
    clipboardPasteFrom(text: string): void;
    addEventListener(type: 'clipboard', listener: (event: RfbClipboardEvent) => void): void;
    addEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: AddEventListenerOptions | boolean): void;
    removeEventListener(type: 'clipboard', listener: (event: RfbClipboardEvent) => void): void;
    removeEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: EventListenerOptions | boolean): void;
  }
}
