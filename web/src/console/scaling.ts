// How the graphical console fits the VM's screen into the window, remembered per browser.

export type Scaling = 'fit' | 'actual' | 'remote';

export const SCALINGS: { value: Scaling; label: string; title: string }[] = [
  { value: 'fit', label: 'Fit to window', title: "Scale the VM's screen to fit the window" },
  { value: 'actual', label: 'Actual size', title: "Show the VM's screen pixel for pixel, scrolling when it is larger" },
  {
    value: 'remote',
    label: 'Resize VM screen',
    title: "Ask the VM to match the window's size; where it cannot, the screen is fitted instead",
  },
];

const STORAGE_KEY = 'distribox.vncScaling';

export function isScaling(value: unknown): value is Scaling {
  return SCALINGS.some((scaling) => scaling.value === value);
}

export function savedScaling(storage: Pick<Storage, 'getItem'> = localStorage): Scaling {
  try {
    const saved = storage.getItem(STORAGE_KEY);
    return isScaling(saved) ? saved : 'fit';
  } catch {
    return 'fit';
  }
}

export function saveScaling(scaling: Scaling, storage: Pick<Storage, 'setItem'> = localStorage): void {
  try {
    storage.setItem(STORAGE_KEY, scaling);
  } catch {
    // not remembered; the choice holds for this page
  }
}

/** noVNC's settings for a scaling. */
export function rfbSettings(scaling: Scaling): { scaleViewport: boolean; resizeSession: boolean; clipViewport: boolean } {
  switch (scaling) {
    case 'fit':
      return { scaleViewport: true, resizeSession: false, clipViewport: false };
    case 'actual':
      // Unclipped, noVNC's screen element scrolls over a canvas larger than the window.
      return { scaleViewport: false, resizeSession: false, clipViewport: false };
    case 'remote':
      // noVNC sends the resize only where the server announced it can (ExtendedDesktopSize);
      // scaling stays on so a screen the VM would not resize still fits. Once resized, the
      // scale is 1.
      return { scaleViewport: true, resizeSession: true, clipViewport: false };
  }
}
