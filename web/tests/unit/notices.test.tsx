import { afterEach, describe, expect, it, vi } from 'vitest';
import { act, cleanup, render, screen } from '@testing-library/react';
import { NoticesProvider, useNotify, type Notify } from '../../src/components/Notices';

/** Renders the provider and hands out its `notify`. */
function notices(): Notify {
  let notify: Notify = () => {};
  function Grab() {
    notify = useNotify();
    return null;
  }
  render(
    <NoticesProvider>
      <Grab />
    </NoticesProvider>,
  );
  return (...args) => act(() => notify(...args));
}

const shown = () => screen.queryAllByRole('status').map((notice) => notice.textContent?.replace('×', ''));

describe('notices', () => {
  afterEach(() => {
    cleanup();
    vi.useRealTimers();
  });

  it('leave after a few seconds', () => {
    vi.useFakeTimers();
    const notify = notices();
    notify('Copied');
    expect(shown()).toEqual(['Copied']);
    act(() => vi.advanceTimersByTime(5_000));
    expect(shown()).toEqual([]);
  });

  it('replace the earlier notice with the same key, and only that one', () => {
    const notify = notices();
    notify('vm-1 is being created.', 'info', { key: 'vm:1' });
    notify('vm-2 is being created.', 'info', { key: 'vm:2' });
    notify('vm-1 is running.', 'info', { key: 'vm:1' });
    expect(shown()).toEqual(['vm-2 is being created.', 'vm-1 is running.']);
  });

  it('leave as soon as what they report has moved on, and stop watching', async () => {
    let settle = () => {};
    const stopWatching = vi.fn();
    const notify = notices();
    notify('vm-1 is being created.', 'info', {
      key: 'vm:1',
      until: (dismiss) => {
        settle = dismiss;
        return stopWatching;
      },
    });
    expect(shown()).toEqual(['vm-1 is being created.']);
    await act(async () => settle());
    expect(shown()).toEqual([]);
    expect(stopWatching).toHaveBeenCalledOnce();
  });

  it('stop watching when replaced', () => {
    const stopWatching = vi.fn();
    const notify = notices();
    notify('vm-1 is being created.', 'info', { key: 'vm:1', until: () => stopWatching });
    notify('vm-1 could not be created.', 'error', { key: 'vm:1' });
    expect(stopWatching).toHaveBeenCalledOnce();
    expect(screen.getByRole('alert').textContent).toContain('could not be created');
    expect(shown()).toEqual([]);
  });
});
