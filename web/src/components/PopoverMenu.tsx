// A button that opens a small panel of more buttons, for rows with more actions than fit. The
// panel is a popover: it sits in the top layer, so a table that scrolls sideways does not clip
// it, and the browser closes it on Escape or a click elsewhere. Its content is rendered only
// while open, so a thousand rows cost a thousand buttons, not five thousand.
import { useEffect, useId, useRef, useState, type ReactNode } from 'react';

export interface PopoverMenuProps {
  /** The opening button's accessible name ("More actions for web"). */
  label: string;
  /** What the opening button shows. */
  icon: ReactNode;
  /** The panel's buttons; `close` hides the panel (call it once one was chosen). */
  children(close: () => void): ReactNode;
}

/** Below the button, right edges aligned; above it when the button is low in the window. */
function place(panel: HTMLElement, anchor: HTMLElement) {
  const box = anchor.getBoundingClientRect();
  panel.style.right = `${Math.max(8, window.innerWidth - box.right)}px`;
  if (box.bottom > window.innerHeight * 0.6) {
    panel.style.top = 'auto';
    panel.style.bottom = `${window.innerHeight - box.top + 4}px`;
  } else {
    panel.style.bottom = 'auto';
    panel.style.top = `${box.bottom + 4}px`;
  }
}

export function PopoverMenu({ label, icon, children }: PopoverMenuProps) {
  const id = useId();
  const anchor = useRef<HTMLButtonElement>(null);
  const panel = useRef<HTMLDivElement>(null);
  const [open, setOpen] = useState(false);
  const close = () => panel.current?.hidePopover();

  // A fixed panel follows its button as the page (or the table) scrolls, and closes once the
  // button is out of sight.
  useEffect(() => {
    if (!open) return;
    const follow = () => {
      if (!anchor.current || !panel.current) return;
      const box = anchor.current.getBoundingClientRect();
      if (box.bottom < 0 || box.top > window.innerHeight) panel.current.hidePopover();
      else place(panel.current, anchor.current);
    };
    window.addEventListener('scroll', follow, { capture: true, passive: true });
    window.addEventListener('resize', follow);
    return () => {
      window.removeEventListener('scroll', follow, { capture: true });
      window.removeEventListener('resize', follow);
    };
  }, [open]);

  return (
    <span className="popover-menu-anchor">
      <button ref={anchor} type="button" className="button small icon-button" popoverTarget={id} aria-label={label} aria-expanded={open} title={label}>
        {icon}
      </button>
      <div
        ref={panel}
        id={id}
        popover="auto"
        className="popover-menu"
        role="group"
        aria-label={label}
        onBeforeToggle={(e) => {
          if (e.newState === 'open' && anchor.current && panel.current) place(panel.current, anchor.current);
          setOpen(e.newState === 'open');
        }}
      >
        {open ? children(close) : null}
      </div>
    </span>
  );
}
