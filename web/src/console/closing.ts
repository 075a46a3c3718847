// What a console's end means for the person at it: the message to show and whether to try
// again. Close codes are the relay's (README: 4000–4006); others are the browser's own.

export type Retry = 'auto' | 'manual' | 'never';

export interface Ending {
  message: string;
  retry: Retry;
  /** The access itself is over (revoked, expired, not valid): its code opens nothing any more. */
  accessOver?: true;
}

export function describeClose(code: number, reason: string): Ending {
  const why = reason.trim();
  switch (code) {
    case 4000:
      return { message: `The console ended${why ? `: ${why}` : ''}.`, retry: 'manual' };
    case 4001:
      return { message: `Access was revoked${why ? `: ${why}` : ''}.`, retry: 'never', accessOver: true };
    case 4002:
      return { message: 'The access expired.', retry: 'never', accessOver: true };
    case 4003:
      return { message: 'The console was closed after a while without activity.', retry: 'manual' };
    case 4004:
      return { message: 'The console reached its time limit.', retry: 'manual' };
    case 4005:
      return { message: 'The connection stopped answering.', retry: 'auto' };
    case 4006:
      return { message: `The console refused what this viewer sent${why ? `: ${why}` : ''}.`, retry: 'never' };
    case 1000:
      return { message: `The console closed${why ? `: ${why}` : ''}.`, retry: 'manual' };
    default:
      // 1006 (no close frame), 1001 (going away), 1011, 1012…: the network or the server blipped.
      return { message: 'The connection was lost.', retry: 'auto' };
  }
}

/** What a failed ticket request means. */
export function describeTicketProblem(code: string, message: string): Ending {
  switch (code) {
    case 'NETWORK':
    case 'UNAVAILABLE':
      return { message: 'Cannot reach Distribox.', retry: 'auto' };
    case 'INTERNAL':
      return { message: 'Distribox failed to open the console.', retry: 'manual' };
    case 'CONFLICT':
      return { message, retry: 'manual' };
    case 'RATE_LIMITED':
      return { message, retry: 'manual' };
    case 'UNAUTHENTICATED':
      // A session that ended, or an access code that is wrong, revoked or expired.
      return { message, retry: 'never', accessOver: true };
    default:
      // FORBIDDEN, NOT_FOUND, BAD_INPUT: trying again will not help.
      return { message, retry: 'never' };
  }
}

/** Waits between automatic attempts: 1 s doubling to 15 s. */
export function backoffMs(attempt: number): number {
  return Math.min(15_000, 1_000 * 2 ** Math.max(0, attempt));
}
