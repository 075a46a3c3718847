import { describe, expect, it } from 'vitest';
import { detailFields, humanKey, textParts } from '../../src/pages/auditDetails';

const SESSION = '0b9f3c2e-5d1a-4e8b-9c7f-2a6d8e4b1f03';
const ACCOUNT = '7c1e4a9d-3b2f-4d6e-8a5c-9f0b1d2e3c4a';

/** A field as it reads, with the full ids it keeps. */
const read = (fields: ReturnType<typeof detailFields>) =>
  fields.map((field) => [field.label, field.value.map((part) => part.text).join(''), field.value.flatMap((part) => (part.id ? [part.id] : []))]);

describe('an audit entry’s details', () => {
  it('names keys in words, with units in brackets', () => {
    expect(humanKey('bytes_in')).toBe('Bytes in');
    expect(humanKey('view_only')).toBe('View only');
    expect(humanKey('memory_mib')).toBe('Memory (MiB)');
    expect(humanKey('diskGib')).toBe('Disk (GiB)');
    expect(humanKey('vm_id')).toBe('VM ID');
    expect(humanKey('vcpus')).toBe('vCPUs');
  });

  it('reads a console session: short ids keeping the full one, yes/no, numbers', () => {
    const fields = detailFields({ session: SESSION, principal: `account:${ACCOUNT}`, kind: 'SERIAL', view_only: false, bytes_out: 12345 });
    expect(read(fields)).toEqual([
      ['Session', '0b9f3c2e', [SESSION]],
      ['Principal', 'account 7c1e4a9d', [ACCOUNT]],
      ['Kind', 'SERIAL', []],
      ['View only', 'no', []],
      ['Bytes out', (12345).toLocaleString(), []],
    ]);
  });

  it('flattens nested values under their parent’s label, and lists', () => {
    const fields = detailFields({ seed: { user: { name: 'u', ssh_keys: ['a', 'b'] } }, tags: [], disks: [{ size_gib: 1 }, { size_gib: 2 }] });
    expect(read(fields)).toEqual([
      ['Seed › User › Name', 'u', []],
      ['Seed › User › SSH keys', 'a, b', []],
      ['Tags', 'none', []],
      ['Disks 1 › Size (GiB)', '1', []],
      ['Disks 2 › Size (GiB)', '2', []],
    ]);
  });

  it('shows times in local time and nothing for an event without a payload', () => {
    expect(textParts('2026-03-01T10:00:00Z')).toEqual([{ text: new Date('2026-03-01T10:00:00Z').toLocaleString() }]);
    expect(detailFields(null)).toEqual([]);
    expect(read(detailFields('VmStarted'))).toEqual([['Details', 'VmStarted', []]]);
  });
});
