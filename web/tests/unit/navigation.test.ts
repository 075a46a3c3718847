import { describe, expect, it } from 'vitest';
import { safeNext } from '../../src/pages/LoginPage';

const origin = 'https://distribox.example';

describe('where a login goes next', () => {
  it('follows paths on this site', () => {
    expect(safeNext('/vms/1/console?kind=vnc', origin)).toBe('/vms/1/console?kind=vnc');
    expect(safeNext('/accounts#x', origin)).toBe('/accounts#x');
  });

  it('refuses anything that leaves the site, and the login page itself', () => {
    for (const next of ['//evil.example/', '/\\evil.example', '/\\/evil.example', 'https://evil.example/', 'javascript:alert(1)', '', null, '/login?next=/']) {
      expect(safeNext(next, origin)).toBe('/');
    }
  });
});
