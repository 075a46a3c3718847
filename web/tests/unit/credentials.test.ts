import { describe, expect, it } from 'vitest';
import { utcFromLocalInput } from '../../src/format';
import { credentialStatus } from '../../src/pages/CredentialsPanel';

const base = { __typename: 'VmCredential' as const, id: 'c', name: 'lab', createdAt: '2026-11-01T00:00:00Z', lastUsedAt: null };

describe('credentials', () => {
  it('tells active, expired and revoked apart', () => {
    const now = Date.parse('2026-11-10T00:00:00Z');
    expect(credentialStatus({ ...base, expiresAt: null, revokedAt: null }, now)).toBe('active');
    expect(credentialStatus({ ...base, expiresAt: '2026-11-09T00:00:00Z', revokedAt: null }, now)).toBe('expired');
    expect(credentialStatus({ ...base, expiresAt: '2026-12-09T00:00:00Z', revokedAt: '2026-11-05T00:00:00Z' }, now)).toBe('revoked');
  });

  it('turns the local expiry input into UTC, or none', () => {
    expect(utcFromLocalInput('')).toBeNull();
    expect(utcFromLocalInput('not a date')).toBeNull();
    expect(utcFromLocalInput('2026-11-10T12:30')).toBe(new Date('2026-11-10T12:30').toISOString());
  });
});
