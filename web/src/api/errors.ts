// What the API refused, in a shape the screens can show: the stable code, the message written
// for people, and for BAD_INPUT the input it concerns (`extensions.field`).
import type { CombinedError } from 'urql';

export type ErrorCode =
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'BAD_INPUT'
  | 'CONFLICT'
  | 'RATE_LIMITED'
  | 'UNAVAILABLE'
  | 'INTERNAL'
  | 'NETWORK';

export interface ApiProblem {
  code: ErrorCode;
  message: string;
  /** The input a BAD_INPUT refusal is about, as the operation names it (`memoryMib`). */
  field?: string;
  /** The policy a FORBIDDEN refusal says is missing. */
  policy?: string;
}

/** No answer at all: the network or the server is down. */
export const UNREACHABLE: ApiProblem = {
  code: 'NETWORK',
  message: 'Cannot reach the server. Check your connection and try again.',
};

/** An answer with neither data nor an error: the server broke its side of the protocol. */
export const NO_ANSWER: ApiProblem = { code: 'INTERNAL', message: 'The server sent no answer.' };

/** What went wrong with a result that has no data: its error, or that nothing came back. */
export function problemOfResult(error: CombinedError | undefined): ApiProblem {
  return error ? problemOf(error) : NO_ANSWER;
}

export function problemOf(error: CombinedError): ApiProblem {
  const first = error.graphQLErrors[0];
  if (first) {
    const ext = (first.extensions ?? {}) as Record<string, unknown>;
    const code = typeof ext.code === 'string' ? (ext.code as ErrorCode) : 'INTERNAL';
    return {
      code,
      message: first.message || 'The request failed.',
      field: typeof ext.field === 'string' ? ext.field : undefined,
      policy: typeof ext.policy === 'string' ? ext.policy : undefined,
    };
  }
  return UNREACHABLE;
}

/** A problem as one line for a notice. */
export function describe(problem: ApiProblem): string {
  // The server's message usually names the policy already; say it once.
  if (problem.code === 'FORBIDDEN' && problem.policy && !problem.message.includes(problem.policy)) {
    return `${problem.message} (needs ${problem.policy})`;
  }
  return problem.message;
}

/**
 * Field-level messages for a form, and the rest for its summary line. With `known`, a field
 * the form does not show goes to the summary line, so no message is lost.
 */
export function splitByField(problem: ApiProblem | null, known?: readonly string[]): { fields: Record<string, string>; general: string | null } {
  if (!problem) return { fields: {}, general: null };
  if (problem.code === 'BAD_INPUT' && problem.field && (!known || known.includes(problem.field))) {
    return { fields: { [problem.field]: problem.message }, general: null };
  }
  return { fields: {}, general: describe(problem) };
}
