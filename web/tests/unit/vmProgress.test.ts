import { describe, expect, it, vi } from 'vitest';

// The VM's events and its current state, stood in for.
const server = vi.hoisted(() => ({
  onEvent: null as null | ((data: unknown) => void),
  stopped: false,
  state: 'PENDING' as string | null,
}));

vi.mock('../../src/api/client', () => ({
  client: { query: () => ({ toPromise: async () => ({ data: { vm: server.state ? { state: server.state } : null } }) }) },
  subscribeLive: (_query: unknown, _variables: unknown, onData: (data: unknown) => void) => {
    server.onEvent = onData;
    return () => {
      server.stopped = true;
    };
  },
}));

const { untilVmSettles } = await import('../../src/live/vmProgress');
const event = (state: string) => server.onEvent?.({ vmEvents: { vmId: 'vm-1', state, event: 'X', at: '' } });

describe('a VM under way', () => {
  it('is done once it runs or stops, not while it is created or starting', async () => {
    server.state = 'PENDING';
    const done = vi.fn();
    const stop = untilVmSettles('vm-1')(done);
    await Promise.resolve();
    event('PENDING');
    event('STARTING');
    expect(done).not.toHaveBeenCalled();
    event('RUNNING');
    expect(done).toHaveBeenCalled();
    stop();
    expect(server.stopped).toBe(true);
  });

  it('is done at once when it had already moved on, or is gone', async () => {
    for (const state of ['STOPPED', null]) {
      server.state = state;
      const done = vi.fn();
      untilVmSettles('vm-1')(done);
      await vi.waitFor(() => expect(done).toHaveBeenCalled());
    }
  });
});
