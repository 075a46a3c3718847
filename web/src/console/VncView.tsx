// A graphical console in noVNC. noVNC is handed the websocket this page opened (so the page
// sees the relay's close code and reason); a new RFB is made for every connection.
import { forwardRef, useImperativeHandle, useRef } from 'react';
import RFB from '@novnc/novnc';
import type { Attachment } from './useConsoleConnection';

export interface VncHandle {
  attach(socket: WebSocket, viewOnly: boolean): Attachment;
  rfb(): RFB | null;
}

export const VncView = forwardRef<VncHandle>(function VncView(_props, ref) {
  const container = useRef<HTMLDivElement>(null);
  const current = useRef<RFB | null>(null);

  useImperativeHandle(ref, () => ({
    attach(socket, viewOnly) {
      const rfb = new RFB(container.current!, socket, { shared: true });
      rfb.viewOnly = viewOnly;
      rfb.scaleViewport = true;
      rfb.resizeSession = false;
      rfb.focusOnClick = true;
      rfb.background = 'transparent';
      current.current = rfb;
      return {
        detach() {
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

  return <div className="vnc-screen" ref={container} data-testid="vnc-screen" />;
});
