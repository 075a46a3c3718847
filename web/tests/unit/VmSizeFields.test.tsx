import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanup, render, screen } from '@testing-library/react';
import { VmSizeFields } from '../../src/pages/VmSizeFields';

const host = vi.hoisted(() => ({ limits: null as { cpus: number; memoryAvailableMib: number } | null }));
vi.mock('../../src/live/useHostLimits', () => ({ useHostLimits: () => host.limits }));

afterEach(cleanup);

function renderSize(memoryMib: number, errors: Record<string, string> = {}) {
  return render(<VmSizeFields size={{ vcpus: 1, memoryMib, diskGib: 4 }} onChange={() => {}} errors={errors} diskMin={4} />);
}

describe('the VM size fields', () => {
  it('offer at most the host’s CPUs, and warn about memory the host does not have free', () => {
    host.limits = { cpus: 2, memoryAvailableMib: 1024 };
    renderSize(2048);
    expect(screen.getByRole('spinbutton', { name: 'vCPUs' })).toHaveAttribute('max', '2');
    expect(screen.getByText(/this host has 2 CPUs/)).toBeInTheDocument();
    expect(screen.getByTestId('memory-warning').textContent).toMatch(/1 GiB free right now/);
    cleanup();
    renderSize(512);
    expect(screen.queryByTestId('memory-warning')).toBeNull();
  });

  it('say the server’s range to a caller who may not read the host', () => {
    host.limits = null;
    renderSize(99_999);
    expect(screen.getByRole('spinbutton', { name: 'vCPUs' })).toHaveAttribute('max', '64');
    expect(screen.queryByTestId('memory-warning')).toBeNull();
  });

  it('show the server’s refusal on its field', () => {
    renderSize(512, { vcpus: 'this host has 2 CPUs: a VM can have at most 2 vCPUs' });
    const vcpus = screen.getByRole('spinbutton', { name: 'vCPUs' });
    expect(vcpus).toHaveAttribute('aria-invalid', 'true');
    expect(vcpus).toHaveAccessibleDescription(/at most 2 vCPUs/);
  });
});
