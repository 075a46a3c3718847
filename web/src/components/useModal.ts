// A <dialog> shown modal for as long as the component that owns it is mounted: focus moves into
// it, the page behind is inert, Escape fires its `cancel`.
import { useEffect, useRef } from 'react';

export function useModal() {
  const dialog = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const element = dialog.current;
    if (element && !element.open) element.showModal();
    return () => element?.close();
  }, []);
  return dialog;
}
