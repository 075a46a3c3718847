import { describe, expect, it } from 'vitest';
import { applySerialModifiers, functionKeysym, functionSequence, KEYSYM, keysymFor, keysymsForText } from '../../src/console/keys';

describe('console keys', () => {
  it('maps text to X11 keysyms', () => {
    expect(keysymFor('a')).toBe(0x61);
    expect(keysymFor('é')).toBe(0xe9);
    expect(keysymFor('€')).toBe(0x01000000 + 0x20ac);
    expect(keysymFor('😀')).toBe(0x01000000 + 0x1f600);
    expect(keysymsForText('a\r\nb\tc')).toEqual([0x61, KEYSYM.Return, 0x62, KEYSYM.Tab, 0x63]);
  });

  it('has F1–F12 and nothing else', () => {
    expect(functionKeysym(1)).toBe(0xffbe);
    expect(functionKeysym(12)).toBe(0xffc9);
    expect(() => functionKeysym(13)).toThrow(RangeError);
    expect(functionSequence(1)).toBe('\x1bOP');
    expect(functionSequence(12)).toBe('\x1b[24~');
    expect(() => functionSequence(0)).toThrow(RangeError);
  });

  it('latched Ctrl and Alt change serial input like a terminal does', () => {
    expect(applySerialModifiers('c', { ctrl: true, alt: false })).toBe('\x03');
    expect(applySerialModifiers('C', { ctrl: true, alt: false })).toBe('\x03');
    expect(applySerialModifiers('[', { ctrl: true, alt: false })).toBe('\x1b');
    expect(applySerialModifiers('?', { ctrl: true, alt: false })).toBe('\x7f');
    expect(applySerialModifiers('x', { ctrl: false, alt: true })).toBe('\x1bx');
    expect(applySerialModifiers('ab', { ctrl: true, alt: false })).toBe('ab'); // a paste is left alone
  });
});
