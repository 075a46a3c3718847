import { describe, expect, it } from 'vitest';
import { backoffMs, describeClose, describeTicketProblem } from '../../src/console/closing';

describe('how a console ends', () => {
  it('never retries after a revocation or an expiry, and says so', () => {
    expect(describeClose(4001, 'the credential was revoked')).toEqual({
      message: 'Access was revoked: the credential was revoked.',
      retry: 'never',
      accessOver: true,
    });
    expect(describeClose(4002, '')).toMatchObject({ retry: 'never', accessOver: true });
    expect(describeClose(4006, 'unknown message')).toEqual({ message: 'The console refused what this viewer sent: unknown message.', retry: 'never' });
  });

  it('offers a button when the VM side ended it', () => {
    expect(describeClose(4000, 'the console ended')).toEqual({ message: 'The console ended: the console ended.', retry: 'manual' });
    expect(describeClose(4003, '').retry).toBe('manual');
    expect(describeClose(4004, '').retry).toBe('manual');
  });

  it('reconnects by itself after a network blip', () => {
    expect(describeClose(1006, '').retry).toBe('auto');
    expect(describeClose(1001, '').retry).toBe('auto');
    expect(describeClose(4005, '').retry).toBe('auto');
    expect(describeTicketProblem('NETWORK', 'x').retry).toBe('auto');
  });

  it('stops when the server will not give a ticket', () => {
    expect(describeTicketProblem('UNAUTHENTICATED', 'bad code')).toEqual({ message: 'bad code', retry: 'never', accessOver: true });
    expect(describeTicketProblem('FORBIDDEN', 'no')).toEqual({ message: 'no', retry: 'never' });
    expect(describeTicketProblem('CONFLICT', 'the VM is not running').retry).toBe('manual');
  });

  it('backs off from 1 s to 15 s', () => {
    expect([0, 1, 2, 3, 4, 10].map(backoffMs)).toEqual([1000, 2000, 4000, 8000, 15000, 15000]);
  });
});
