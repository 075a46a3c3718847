// Copying text for the person at the page. The Clipboard API is missing on pages not served
// over HTTPS (or localhost) and may be refused; then the text is selected instead, so Ctrl+C
// (or the phone's copy menu) copies it.

export type CopyOutcome = 'copied' | 'selected';

export async function copyOrSelect(text: string, shown: HTMLElement | null): Promise<CopyOutcome> {
  try {
    if (!navigator.clipboard) throw new Error('no Clipboard API');
    await navigator.clipboard.writeText(text);
    return 'copied';
  } catch {
    if (shown) select(shown);
    return 'selected';
  }
}

function select(element: HTMLElement) {
  if (element instanceof HTMLInputElement || element instanceof HTMLTextAreaElement) {
    element.focus();
    element.select();
    return;
  }
  const range = document.createRange();
  range.selectNodeContents(element);
  const selection = window.getSelection();
  selection?.removeAllRanges();
  selection?.addRange(range);
}

export const COPY_LABEL: Record<CopyOutcome | 'idle', string> = {
  idle: 'Copy',
  copied: 'Copied',
  selected: 'Selected: press Ctrl+C',
};
