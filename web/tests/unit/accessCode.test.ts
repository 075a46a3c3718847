import { describe, expect, it, vi } from 'vitest';
import { codeInFragment, forgetCode, fragmentWithoutCode, rememberCode, rememberedCode, shareLink, takeAccessCode, type CodeSource } from '../../src/console/accessCode';

const CODE = '3f9a'.repeat(16);

/** A tab at `url`, with its own sessionStorage and a history that records replaceState. */
function tab(url: string, storage: Storage = new MemoryStorage()) {
  let address = new URL(url);
  const replaceState = vi.fn((_state: unknown, _unused: string, next: string) => {
    address = new URL(next, address);
  });
  const source = {
    get location() {
      return address as unknown as Location;
    },
    history: { state: { idx: 0 }, replaceState } as unknown as History,
    sessionStorage: storage,
  } satisfies CodeSource;
  return { source, replaceState, address: () => address.href, storage };
}

class MemoryStorage implements Storage {
  private items = new Map<string, string>();
  get length() {
    return this.items.size;
  }
  clear() {
    this.items.clear();
  }
  getItem(key: string) {
    return this.items.get(key) ?? null;
  }
  key(index: number) {
    return [...this.items.keys()][index] ?? null;
  }
  removeItem(key: string) {
    this.items.delete(key);
  }
  setItem(key: string, value: string) {
    this.items.set(key, value);
  }
}

describe('the access code in a link', () => {
  it('puts the code in the fragment, where it survives a round trip', () => {
    const link = shareLink('https://lab.example', CODE);
    expect(link).toBe(`https://lab.example/connect#code=${CODE}`);
    expect(codeInFragment(new URL(link).hash)).toBe(CODE);
    // Whatever the code holds comes back the same.
    expect(codeInFragment(new URL(shareLink('https://x', 'a+b/c=d&e')).hash)).toBe('a+b/c=d&e');
  });

  it('reads the code among other fragment parameters, or finds none', () => {
    expect(codeInFragment(`#code=${CODE}&kind=serial`)).toBe(CODE);
    expect(codeInFragment(`#kind=serial&code=%20${CODE}%20`)).toBe(CODE);
    expect(codeInFragment('')).toBeNull();
    expect(codeInFragment('#')).toBeNull();
    expect(codeInFragment('#code=')).toBeNull();
    expect(codeInFragment('#section-2')).toBeNull();
  });

  it('takes only the code out of the fragment', () => {
    expect(fragmentWithoutCode(`#code=${CODE}`)).toBe('');
    expect(fragmentWithoutCode(`#code=${CODE}&kind=serial`)).toBe('#kind=serial');
    expect(fragmentWithoutCode('')).toBe('');
  });
});

describe('the code a tab runs on', () => {
  it('comes from the link, leaves the address bar without a history entry, and is kept for the tab', () => {
    const { source, replaceState, address, storage } = tab(`https://lab.example/connect?kind=serial#code=${CODE}`);
    expect(takeAccessCode(source)).toBe(CODE);
    expect(replaceState).toHaveBeenCalledTimes(1);
    // The router's state is kept as it was.
    expect(replaceState.mock.calls[0][0]).toEqual({ idx: 0 });
    expect(address()).toBe('https://lab.example/connect?kind=serial');
    expect(address()).not.toContain(CODE);
    expect(rememberedCode(storage)).toBe(CODE);
  });

  it('survives a reload of the tab (a second render too), not a new tab without the link', () => {
    const first = tab(`https://lab.example/connect#code=${CODE}`);
    takeAccessCode(first.source);
    const reloaded = tab(first.address(), first.storage);
    expect(takeAccessCode(reloaded.source)).toBe(CODE);
    expect(reloaded.replaceState).not.toHaveBeenCalled();
    expect(takeAccessCode(tab('https://lab.example/connect').source)).toBeNull();
  });

  it('prefers a new link over the code the tab had', () => {
    const { source, storage } = tab(`https://lab.example/connect#code=${'b'.repeat(64)}`);
    rememberCode(storage, CODE);
    expect(takeAccessCode(source)).toBe('b'.repeat(64));
    expect(rememberedCode(storage)).toBe('b'.repeat(64));
  });

  it('is gone once forgotten', () => {
    const storage = new MemoryStorage();
    rememberCode(storage, CODE);
    forgetCode(storage);
    expect(rememberedCode(storage)).toBeNull();
    expect(storage.length).toBe(0);
  });

  it('still opens the console when storage is refused, and still leaves the address bar', () => {
    const refusing = new MemoryStorage();
    refusing.setItem = () => {
      throw new DOMException('quota', 'QuotaExceededError');
    };
    refusing.getItem = () => {
      throw new DOMException('denied', 'SecurityError');
    };
    const { source, address } = tab(`https://lab.example/connect#code=${CODE}`, refusing);
    expect(takeAccessCode(source)).toBe(CODE);
    expect(address()).toBe('https://lab.example/connect');
    expect(rememberedCode(refusing)).toBeNull();
  });
});
