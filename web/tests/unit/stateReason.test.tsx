import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanup, render, screen, within } from '@testing-library/react';
import { MemoryRouter, Route, Routes } from 'react-router-dom';
import type { ReactNode } from 'react';
import { Provider, type Client } from 'urql';
import { fromValue, never } from 'wonka';
import type { DocumentNode } from 'graphql';
import { vmFixture } from './fixtures';

// The pages' live updates (vmEvents) and mutations go through the shared client: nothing arrives here.
vi.mock('../../src/api/client', () => ({
  client: { mutation: () => ({ toPromise: async () => ({}) }), query: () => ({ toPromise: async () => ({}) }) },
  subscribeLive: () => () => {},
  onReconnected: () => () => {},
}));
vi.mock('../../src/session', () => ({ useSession: () => ({ can: () => false }) }));

import { HostPanel } from '../../src/pages/HostPanel';
import { VmDetailPage } from '../../src/pages/VmDetailPage';
import { StateBadge } from '../../src/components/StateBadge';
import { reasonSeverity } from '../../src/components/StateReason';

afterEach(cleanup);

function operationName(query: DocumentNode): string {
  const definition = query.definitions[0];
  return definition.kind === 'OperationDefinition' ? (definition.name?.value ?? '') : '';
}

function renderWith(answers: Record<string, unknown>, page: ReactNode, address = '/') {
  const client = {
    executeQuery: vi.fn(({ query }: { query: DocumentNode }) => {
      const name = operationName(query);
      return name in answers ? fromValue({ data: answers[name], stale: false, hasNext: false }) : never;
    }),
    executeMutation: vi.fn(() => never),
    executeSubscription: vi.fn(() => never),
  } as unknown as Client;
  return render(
    <Provider value={client}>
      <MemoryRouter initialEntries={[address]}>{page}</MemoryRouter>
    </Provider>,
  );
}

function host(hypervisor: { domainType: string; warning: string | null }) {
  return {
    Host: {
      host: {
        hypervisor: { available: true, unavailableSince: null, error: null, ...hypervisor },
        cpus: 2,
        memoryTotalMib: 4096,
        memoryAvailableMib: 2048,
        diskTotalGib: 100,
        diskAvailableGib: 50,
        loadAverage: [0.5, 0.4, 0.3],
        allocatedVcpus: 1,
        allocatedMemoryMib: 512,
        allocatedDiskGib: 4,
      },
    },
  };
}

describe('the host panel', () => {
  it('warns when KVM is there but guests run under software emulation', () => {
    const warning = '/dev/kvm is present but KVM could not run a test guest (emulation failure); VMs run under software emulation (slow).';
    renderWith(host({ domainType: 'qemu', warning }), <HostPanel />);
    expect(screen.getByText(/software emulation \(QEMU\/TCG\), slow/)).toBeInTheDocument();
    const callout = screen.getByTestId('hypervisor-warning');
    expect(callout).toHaveTextContent(warning);
    expect(callout).toHaveAttribute('data-severity', 'warning');
  });

  it('names KVM and warns of nothing when it runs the guests', () => {
    renderWith(host({ domainType: 'kvm', warning: null }), <HostPanel />);
    expect(screen.getByText(/KVM \(hardware virtualisation\)/)).toBeInTheDocument();
    expect(screen.queryByTestId('hypervisor-warning')).toBeNull();
    expect(screen.queryByText(/software emulation/)).toBeNull();
  });
});

function vmPage(over: Parameters<typeof vmFixture>[1]) {
  const vm = { ...vmFixture('vm-1', { allowed: ['vms:getById'], ...over }), autostart: false, clonedFromId: null, snapshots: [] };
  return renderWith(
    { VmDetail: { vm }, VmHistory: { vm: { id: vm.id, events: [] } } },
    <Routes>
      <Route path="/vms/:id" element={<VmDetailPage />} />
    </Routes>,
    `/vms/${vm.id}`,
  );
}

describe('the VM page', () => {
  it('says why a VM was paused outside Distribox, as information', () => {
    vmPage({
      state: 'PAUSED',
      stateReason: 'paused outside Distribox (for example with virsh suspend)',
      pauseReason: 'OUTSIDE',
    });
    const reason = screen.getByTestId('state-reason');
    expect(reason).toHaveTextContent('Paused outside Distribox (for example with virsh suspend)');
    expect(reason).toHaveAttribute('data-severity', 'info');
  });

  it('warns why a VM crashed, and says a failure once', () => {
    vmPage({ state: 'FAILED', failure: 'domain failed to start', stateReason: 'domain failed to start' });
    expect(screen.getByTestId('state-reason')).toHaveAttribute('data-severity', 'warning');
    expect(screen.getAllByText(/domain failed to start/i)).toHaveLength(1);
  });

  it('shows no reason where the state says it all', () => {
    vmPage({ state: 'RUNNING' });
    expect(screen.getByRole('heading', { level: 1 })).toHaveTextContent('Running');
    expect(screen.queryByTestId('state-reason')).toBeNull();
  });
});

describe('the state badge', () => {
  it('carries the reason as its tooltip and in its accessible text', () => {
    const { container } = render(<StateBadge state="CRASHED" reason="the guest crashed" />);
    const badge = container.querySelector('.badge') as HTMLElement;
    expect(badge).toHaveAttribute('title', 'The guest crashed');
    expect(badge).toHaveTextContent('Crashed: the guest crashed');
    // Heard by screen readers, but the row is no wider for it.
    expect(within(badge).getByText(/the guest crashed/)).toHaveClass('visually-hidden');
  });

  it('tells an outside pause from a fault', () => {
    expect(reasonSeverity('PAUSED', 'OUTSIDE')).toBe('info');
    expect(reasonSeverity('PAUSED', 'IO_ERROR')).toBe('warning');
    expect(reasonSeverity('PAUSED', 'HYPERVISOR_ERROR')).toBe('warning');
    expect(reasonSeverity('CRASHED', null)).toBe('warning');
  });
});
