// A graphical console in noVNC. noVNC is handed the websocket this page opened (so the page
// sees the relay's close code and reason); a new RFB is made for every connection. The chosen
// scaling applies to the screen shown and to every later connection; text the VM puts on its
// clipboard is passed up.
import { forwardRef, useEffect, useImperativeHandle, useRef } from 'react';
import RFB, { type RfbClipboardEvent } from '@novnc/novnc';
import type { Attachment } from './useConsoleConnection';
import { rfbSettings, type Scaling } from './scaling';

export interface VncHandle {
  attach(socket: WebSocket, viewOnly: boolean): Attachment;
  rfb(): RFB | null;
}

export interface VncViewProps {
  scaling: Scaling;
  /** Text the VM put on its clipboard. */
  onClipboard(text: string): void;
}

function applyScaling(rfb: RFB, scaling: Scaling) {
  const settings = rfbSettings(scaling);
  rfb.clipViewport = settings.clipViewport;
  rfb.scaleViewport = settings.scaleViewport;
  rfb.resizeSession = settings.resizeSession;
}

export const VncView = forwardRef<VncHandle, VncViewProps>(function VncView({ scaling, onClipboard }, ref) {
  const container = useRef<HTMLDivElement>(null);
  const current = useRef<RFB | null>(null);
  const latest = useRef({ scaling, onClipboard });
  latest.current = { scaling, onClipboard };

  useEffect(() => {
    if (current.current) applyScaling(current.current, scaling);
  }, [scaling]);

  useImperativeHandle(ref, () => ({
    attach(socket, viewOnly) {
      const rfb = new RFB(container.current!, socket, { shared: true });
      rfb.viewOnly = viewOnly;
      applyScaling(rfb, latest.current.scaling);
      rfb.focusOnClick = true;
      rfb.background = 'transparent';
      const onCutText = (event: RfbClipboardEvent) => latest.current.onClipboard(event.detail.text);
      rfb.addEventListener('clipboard', onCutText);
      current.current = rfb;
      return {
        detach() {
          rfb.removeEventListener('clipboard', onCutText);
          if (current.current === rfb) current.current = null;
          try {
            rfb.disconnect();
          } catch {
            // already disconnected
          }
        },
      };
    },
    rfb: () => current.current,
  }));

  return <div className="vnc-screen" ref={container} data-testid="vnc-screen" data-scaling={scaling} />;
});
