import { afterEach, describe, expect, it, vi } from 'vitest';
import { act, cleanup, fireEvent, render, screen, within } from '@testing-library/react';
import { MemoryRouter } from 'react-router-dom';
import { VmTable } from '../../src/pages/VmTable';
import { vmFixture } from './fixtures';
import { applyEvent, loaded, rows, type Vm } from '../../src/live/vmList';

// Usage samples come from the server on a timer; these tests are about the table.
vi.mock('../../src/live/useVmUsage', () => ({ useVmUsage: () => new Map() }));

afterEach(cleanup);

function vm(i: number, over: Partial<Vm> = {}): Vm {
  return vmFixture(`id-${i}`, {
    name: `vm-${i}`,
    createdAt: new Date(i * 1000).toISOString(),
    allowed: i === 0 ? ['vms:start', 'vms:delete', 'vms:getById'] : ['vms:getById'],
    ...over,
  });
}

function renderTable(vms: Vm[], address = '/') {
  return render(
    <MemoryRouter initialEntries={[address]}>
      <VmTable vms={vms} onAction={() => {}} />
    </MemoryRouter>,
  );
}

const shownIds = (container: HTMLElement) => [...container.querySelectorAll('tbody tr')].map((row) => row.getAttribute('data-vm-id'));

describe('the VM table', () => {
  it('greys an action the caller lacks, naming the policy', () => {
    renderTable([vm(0), vm(1)]);
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

  it('shows the rows the address asks for, in its order', () => {
    const vms = [vm(0, { name: 'web-a', tags: ['lab'] }), vm(1, { name: 'db' }), vm(2, { name: 'web-b', state: 'RUNNING' }), vm(3, { name: 'other', note: 'web server' })];
    const { container } = renderTable(vms, '/?q=web&sort=name&order=desc');
    expect(shownIds(container)).toEqual(['id-2', 'id-0', 'id-3']);
    expect(screen.getByTestId('vm-count').textContent).toContain('3 of 4 VMs shown');
    expect(within(container.querySelector('tr[data-vm-id="id-0"]')!).getByText('lab')).toBeInTheDocument();
  });

  it('selects all shown rows, and offers only the bulk actions some of them allow', () => {
    const vms = [vm(0), vm(1), vm(2, { state: 'RUNNING', allowed: ['vms:stop'] }), vm(3, { name: 'hidden' })];
    const { container } = renderTable(vms, '/?q=vm-');
    expect(shownIds(container)).toEqual(['id-0', 'id-1', 'id-2']);
    fireEvent.click(screen.getByRole('checkbox', { name: 'Select all shown' }));
    const bar = screen.getByTestId('bulk-bar');
    expect(bar.textContent).toContain('3 selected');
    // vm-0 may be started and deleted, vm-2 force stopped; vm-1 allows nothing.
    expect([...bar.querySelectorAll('[data-bulk]')].map((b) => b.textContent)).toEqual(['Start 1', 'Force stop 1', 'Delete 1']);
    // The VM the search hid was not selected with them.
    fireEvent.change(screen.getByRole('searchbox', { name: 'Search VMs' }), { target: { value: '' } });
    expect(shownIds(container)).toHaveLength(4);
    expect(screen.getByRole('checkbox', { name: /^Select hidden/ })).not.toBeChecked();
    expect(screen.getByRole('checkbox', { name: 'Select all shown' })).toHaveProperty('indeterminate', true);
  });
});
