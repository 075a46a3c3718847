import { describe, expect, it } from 'vitest';
import { CombinedError } from 'urql';
import { GraphQLError } from 'graphql';
import { describe as describeProblem, problemOf, splitByField } from '../../src/api/errors';
import { actionsFor } from '../../src/live/vmActions';
import { holds } from '../../src/session';

describe('what the dashboard offers', () => {
  it('distribox:admin holds every policy', () => {
    expect(holds(['distribox:admin'], 'users:create')).toBe(true);
    expect(holds(['vms:get'], 'users:create')).toBe(false);
    expect(holds(['users:create'], 'users:create')).toBe(true);
  });

  it('offers the actions of the state, greyed where the policy is missing', () => {
    const running = actionsFor({ state: 'RUNNING', allowed: ['vms:stop'] });
    expect(running.map((a) => [a.action, a.allowed])).toEqual([
      ['shutdown', true],
      ['reboot', false],
      ['pause', false],
      ['forceStop', true],
    ]);
    expect(actionsFor({ state: 'STOPPED', allowed: [] }).map((a) => a.action)).toEqual(['start', 'delete']);
    expect(actionsFor({ state: 'STARTING', allowed: [] }).map((a) => a.action)).toEqual(['forceStop']);
  });
});

describe('refusals', () => {
  const refusal = (extensions: Record<string, unknown>) =>
    new CombinedError({ graphQLErrors: [new GraphQLError('memoryMib must be at least 128', { extensions })] });

  it('puts a field refusal on its field', () => {
    const problem = problemOf(refusal({ code: 'BAD_INPUT', field: 'memoryMib' }));
    expect(splitByField(problem)).toEqual({ fields: { memoryMib: 'memoryMib must be at least 128' }, general: null });
  });

  it('names the missing policy', () => {
    const problem = problemOf(refusal({ code: 'FORBIDDEN', policy: 'vms:create' }));
    expect(splitByField(problem).general).toBe('memoryMib must be at least 128 (needs vms:create)');
  });

  it('calls an unreachable server a network problem', () => {
    const problem = problemOf(new CombinedError({ networkError: new Error('fetch failed') }));
    expect(problem.code).toBe('NETWORK');
    expect(describeProblem(problem)).toMatch(/Cannot reach the server/);
  });
});
