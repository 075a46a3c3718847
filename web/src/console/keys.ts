// Keys the toolbar sends. VNC speaks X11 keysyms; a serial console speaks the bytes a VT100-ish
// terminal (xterm) would send.

/** X11 keysyms (X11/keysymdef.h). */
export const KEYSYM = {
  BackSpace: 0xff08,
  Tab: 0xff09,
  Return: 0xff0d,
  Escape: 0xff1b,
  Delete: 0xffff,
  Shift_L: 0xffe1,
  Control_L: 0xffe3,
  Alt_L: 0xffe9,
  Super_L: 0xffeb,
  F1: 0xffbe,
} as const;

/** The keysym of F1…F12. */
export function functionKeysym(n: number): number {
  if (!Number.isInteger(n) || n < 1 || n > 12) throw new RangeError(`no F${n} key`);
  return KEYSYM.F1 + n - 1;
}

/**
 * The keysym that types `char`: Latin-1 maps to itself, other Unicode to 0x01000000 + code
 * point (the X11 convention noVNC and QEMU follow), line breaks to Return and tabs to Tab.
 */
export function keysymFor(char: string): number {
  const code = char.codePointAt(0);
  if (code === undefined) throw new RangeError('empty character');
  if (char === '\n' || char === '\r') return KEYSYM.Return;
  if (char === '\t') return KEYSYM.Tab;
  if ((code >= 0x20 && code <= 0x7e) || (code >= 0xa0 && code <= 0xff)) return code;
  return 0x01000000 + code;
}

/** Keysyms to type `text`, one per character ("\r\n" counts as one Return). */
export function keysymsForText(text: string): number[] {
  return Array.from(text.replace(/\r\n/g, '\n')).map(keysymFor);
}

/** What xterm sends for F1…F12 (VT220/xterm sequences). */
const FUNCTION_SEQUENCES = ['\x1bOP', '\x1bOQ', '\x1bOR', '\x1bOS', '\x1b[15~', '\x1b[17~', '\x1b[18~', '\x1b[19~', '\x1b[20~', '\x1b[21~', '\x1b[23~', '\x1b[24~'];

export function functionSequence(n: number): string {
  const sequence = FUNCTION_SEQUENCES[n - 1];
  if (!sequence) throw new RangeError(`no F${n} key`);
  return sequence;
}

export interface Modifiers {
  ctrl: boolean;
  alt: boolean;
}

/**
 * Bytes for serial input typed while the toolbar's Ctrl or Alt is latched: Ctrl turns a letter
 * (or one of @[\]^_?) into its control character, Alt prefixes ESC (the "meta sends escape"
 * convention).
 */
export function applySerialModifiers(data: string, { ctrl, alt }: Modifiers): string {
  let out = data;
  if (ctrl && out.length === 1) {
    const upper = out.toUpperCase();
    const code = upper.charCodeAt(0);
    if (code >= 0x40 && code <= 0x5f) out = String.fromCharCode(code - 0x40);
    else if (upper === '?') out = '\x7f';
    else if (upper === ' ') out = '\x00';
  }
  return alt ? `\x1b${out}` : out;
}
