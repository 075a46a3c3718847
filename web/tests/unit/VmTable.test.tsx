import { describe, expect, it, vi } from 'vitest';
import { act, render, screen } from '@testing-library/react';
import { MemoryRouter } from 'react-router-dom';
import { VmTable } from '../../src/pages/VmTable';
import { vmFixture } from './fixtures';
import { applyEvent, loaded, rows, type Vm } from '../../src/live/vmList';

function vm(i: number): Vm {
  return vmFixture(`id-${i}`, {
    name: `vm-${i}`,
    createdAt: new Date(i * 1000).toISOString(),
    allowed: i === 0 ? ['vms:start', 'vms:delete', 'vms:getById'] : ['vms:getById'],
  });
}

describe('the VM table', () => {
  it('greys an action the caller lacks, naming the policy', () => {
    render(
      <MemoryRouter>
        <VmTable vms={[vm(0), vm(1)]} onAction={() => {}} />
      </MemoryRouter>,
    );
    const starts = screen.getAllByRole('button', { name: /^Start/ });
    expect(starts[0]).toBeEnabled();
    expect(starts[0]).toHaveAccessibleName('Start');
    expect(starts[1]).toBeDisabled();
    expect(starts[1].getAttribute('title')).toBe('Needs the vms:start policy');
    // Screen readers hear why, not only mouse users hovering.
    expect(starts[1]).toHaveAccessibleName('Start (needs the vms:start policy)');
  });

  it('shows an event on its row', () => {
    let list = loaded(Array.from({ length: 50 }, (_, i) => vm(i)));
    const onAction = vi.fn();
    const view = render(
      <MemoryRouter>
        <VmTable vms={rows(list)} onAction={onAction} />
      </MemoryRouter>,
    );
    list = applyEvent(list, { vmId: 'id-7', state: 'RUNNING', event: 'VmStarted', at: '' }).list;
    act(() =>
      view.rerender(
        <MemoryRouter>
          <VmTable vms={rows(list)} onAction={onAction} />
        </MemoryRouter>,
      ),
    );
    const row = view.container.querySelector('tr[data-vm-id="id-7"]');
    expect(row?.getAttribute('data-state')).toBe('RUNNING');
    expect(row?.textContent).toContain('Running');
  });
});
