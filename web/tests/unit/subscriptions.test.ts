import { CombinedError } from 'urql';
import { describe, expect, it } from 'vitest';
import { shouldResubscribe } from '../../src/api/client';

const answered = (code: string) =>
  new CombinedError({ graphQLErrors: [{ message: 'refused', extensions: { code } }] });

describe('shouldResubscribe', () => {
  it('tries again when the link or the server failed', () => {
    expect(shouldResubscribe(new CombinedError({ networkError: new Error('socket closed') }))).toBe(true);
    expect(shouldResubscribe(answered('UNAVAILABLE'))).toBe(true);
    expect(shouldResubscribe(answered('INTERNAL'))).toBe(true);
  });

  it('leaves a refusal alone: trying again would only be refused again', () => {
    for (const code of ['FORBIDDEN', 'NOT_FOUND', 'BAD_INPUT', 'UNAUTHENTICATED']) {
      expect(shouldResubscribe(answered(code))).toBe(false);
    }
  });
});
