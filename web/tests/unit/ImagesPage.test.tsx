import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { act, cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { MemoryRouter } from 'react-router-dom';
import type { ReactNode } from 'react';
import { CombinedError, Provider, type Client } from 'urql';
import { fromValue, never } from 'wonka';
import type { DocumentNode } from 'graphql';
import type { ImageFieldsFragment } from '../../src/gql/graphql';

// The page talks to the server through the shared client (mutations, subscriptions) and urql's
// hooks (queries): both are stood in for here.
const live = vi.hoisted(() => ({
  onProgress: null as null | ((data: unknown) => void),
  mutation: null as null | ((name: string, variables: Record<string, unknown>) => { data?: unknown; error?: unknown }),
}));

vi.mock('../../src/api/client', () => ({
  client: {
    mutation: (query: DocumentNode, variables: Record<string, unknown>) => ({
      toPromise: async () => live.mutation?.(operationName(query), variables) ?? { data: {} },
    }),
    query: () => ({ toPromise: async () => ({}) }),
  },
  subscribeLive: (_query: unknown, _variables: unknown, onData: (data: unknown) => void) => {
    live.onProgress = onData;
    return () => {
      live.onProgress = null;
    };
  },
  onReconnected: () => () => {},
}));

const allowDelete = vi.hoisted(() => ({ value: true }));
vi.mock('../../src/session', () => ({
  useSession: () => ({ can: (policy: string) => policy !== 'images:delete' || allowDelete.value }),
}));

import { ImagesPage } from '../../src/pages/ImagesPage';
import { ProvisionPage } from '../../src/pages/ProvisionPage';

function operationName(query: DocumentNode): string {
  const definition = query.definitions[0];
  return definition.kind === 'OperationDefinition' ? (definition.name?.value ?? '') : '';
}

function image(id: string, over: Partial<ImageFieldsFragment> = {}): ImageFieldsFragment {
  return {
    id,
    name: `image-${id}`,
    status: 'READY',
    osFamily: 'debian',
    osVersion: '12',
    defaultUser: 'debian',
    firmware: 'bios',
    description: null,
    sourceKind: 'url',
    source: `https://example.org/${id}.qcow2`,
    format: 'qcow2',
    convertedFrom: null,
    sha256: null,
    sizeBytes: 300 * 1024 * 1024,
    virtualSizeBytes: 2 * 1024 * 1024 * 1024,
    minDiskGib: 2,
    usedBy: 0,
    failure: null,
    createdAt: '2026-11-01T00:00:00Z',
    ...over,
  };
}

function mockClient(answers: Record<string, unknown>): Client {
  return {
    executeQuery: vi.fn(({ query }: { query: DocumentNode }) => {
      const name = operationName(query);
      return name in answers ? fromValue({ data: answers[name], stale: false, hasNext: false }) : never;
    }),
    executeMutation: vi.fn(() => never),
    executeSubscription: vi.fn(() => never),
  } as unknown as Client;
}

function renderWith(answers: Record<string, unknown>, page: ReactNode) {
  return render(
    <Provider value={mockClient(answers)}>
      <MemoryRouter>{page}</MemoryRouter>
    </Provider>,
  );
}

const catalogue = {
  imageCatalogue: [
    {
      key: 'debian-12',
      name: 'Debian 12',
      osFamily: 'debian',
      osVersion: '12',
      url: 'https://example.org/a.qcow2',
      checksumUrl: 'https://example.org/SHA512SUMS',
      defaultUser: 'debian',
      firmware: 'bios',
      description: null,
    },
    {
      key: 'fedora-41',
      name: 'Fedora 41',
      osFamily: 'fedora',
      osVersion: '41',
      url: 'https://example.org/fedora.qcow2',
      checksumUrl: 'https://example.org/CHECKSUM',
      defaultUser: 'fedora',
      firmware: 'uefi',
      description: 'Fedora Cloud Base',
    },
  ],
};

beforeEach(() => {
  allowDelete.value = true;
  live.mutation = null;
});
afterEach(cleanup);

describe('the Images page', () => {
  it('lists images with their status, and what can be done with each', () => {
    renderWith(
      {
        ImageList: {
          images: [
            image('a', { usedBy: 2 }),
            image('b', { status: 'FAILED', failure: 'checksum mismatch', format: null, sizeBytes: null }),
            image('c', { status: 'FAILED', sourceKind: 'upload', source: 'disk.qcow2', failure: 'not a disk image' }),
            image('d', { status: 'RETIRED', format: 'qcow2', convertedFrom: 'vmdk' }),
          ],
        },
        ImageCatalogue: catalogue,
      },
      <ImagesPage />,
    );
    const row = (id: string) => document.querySelector(`tr[data-image-id="${id}"]`) as HTMLElement;
    expect(within(row('a')).getByText('Ready')).toBeInTheDocument();
    expect(within(row('a')).getByText('2 VMs')).toBeInTheDocument();
    expect(within(row('a')).getByRole('button', { name: 'Retire' })).toBeEnabled();
    expect(within(row('b')).getByText('checksum mismatch')).toBeInTheDocument();
    expect(within(row('b')).getByRole('button', { name: 'Retry' })).toBeEnabled();
    expect(within(row('c')).queryByRole('button', { name: 'Retry' })).toBeNull();
    expect(within(row('c')).getByText(/Upload the file again/)).toBeInTheDocument();
    expect(within(row('d')).getByText('converted from vmdk')).toBeInTheDocument();
    expect(within(row('a')).getByText('2 GiB virtual')).toBeInTheDocument();
    expect(within(row('d')).getByRole('button', { name: 'Reinstate' })).toBeEnabled();

    // The catalogue offers what is not there yet.
    const debian = document.querySelector('li[data-catalogue-key="debian-12"]') as HTMLElement;
    const fedora = document.querySelector('li[data-catalogue-key="fedora-41"]') as HTMLElement;
    expect(within(debian).queryByRole('button', { name: 'Add' })).toBeNull();
    expect(within(debian).getByText('Added')).toBeInTheDocument();
    expect(within(fedora).getByRole('button', { name: 'Add' })).toBeEnabled();
    // Both forms, for an account that may import.
    expect(screen.getByRole('heading', { name: 'Import from a URL' })).toBeInTheDocument();
    expect(screen.getByRole('heading', { name: 'Upload a file' })).toBeInTheDocument();
  });

  it('greys what the account may not do, naming the policy', () => {
    allowDelete.value = false;
    renderWith({ ImageList: { images: [image('a')] }, ImageCatalogue: catalogue }, <ImagesPage />);
    const retire = screen.getByRole('button', { name: /^Retire/ });
    expect(retire).toBeDisabled();
    expect(retire.getAttribute('data-missing-policy')).toBe('images:delete');
  });

  it('follows an import live', async () => {
    renderWith({ ImageList: { images: [image('a', { status: 'IMPORTING', format: null, sizeBytes: null })] }, ImageCatalogue: catalogue }, <ImagesPage />);
    const row = document.querySelector('tr[data-image-id="a"]') as HTMLElement;
    expect(within(row).getByText('Waiting for the importer…')).toBeInTheDocument();
    act(() =>
      live.onProgress?.({ imageProgress: { imageId: 'a', phase: 'DOWNLOADING', bytes: 5 * 1024 * 1024, total: 10 * 1024 * 1024, rate: 1024 * 1024, error: null } }),
    );
    expect(within(row).getByText('Downloading 5 MiB of 10 MiB (50 %) · 1 MiB/s · about 5 s left')).toBeInTheDocument();
    const bar = row.querySelector('progress') as HTMLProgressElement;
    expect(bar.value).toBeCloseTo(0.5);
  });

  it('says clearly why an image in use was not deleted', async () => {
    live.mutation = (name) =>
      name === 'DeleteImage'
        ? { error: new CombinedError({ graphQLErrors: [{ message: 'image a is used by VMs web-1, web-2', extensions: { code: 'CONFLICT' } }] }) }
        : { data: {} };
    renderWith({ ImageList: { images: [image('a', { usedBy: 2 })] }, ImageCatalogue: catalogue }, <ImagesPage />);
    // jsdom has no modal dialogs.
    HTMLDialogElement.prototype.showModal ??= function (this: HTMLDialogElement) {
      this.setAttribute('open', '');
    };
    HTMLDialogElement.prototype.close ??= function (this: HTMLDialogElement) {
      this.removeAttribute('open');
    };
    fireEvent.click(screen.getByRole('button', { name: 'Delete' }));
    const dialog = document.querySelector('dialog') as HTMLElement;
    expect(dialog.textContent).toContain('2 VMs are built on it');
    fireEvent.click(within(dialog).getByRole('button', { name: 'Delete' }));
    await waitFor(() => expect(screen.getByRole('alert')).toHaveTextContent('Not deleted: image a is used by VMs web-1, web-2'));
  });
});

describe('the New VM page', () => {
  const layouts = { keyboardLayouts: ['en-us'] };

  it('offers only ready images', () => {
    renderWith(
      {
        Images: {
          ...layouts,
          images: [
            { id: 'ready', name: 'Ready one', status: 'READY', osFamily: null, osVersion: null, defaultUser: null, minDiskGib: 1 },
            { id: 'importing', name: 'Importing one', status: 'IMPORTING', osFamily: null, osVersion: null, defaultUser: null, minDiskGib: 1 },
            { id: 'retired', name: 'Retired one', status: 'RETIRED', osFamily: null, osVersion: null, defaultUser: null, minDiskGib: 1 },
          ],
        },
      },
      <ProvisionPage />,
    );
    const options = [...(document.querySelector('select[name=image]') as HTMLSelectElement).options].map((o) => o.value);
    expect(options).toEqual(['ready']);
  });

  it('says where to add an image when there is none', () => {
    renderWith(
      { Images: { ...layouts, images: [{ id: 'f', name: 'Failed', status: 'FAILED', osFamily: null, osVersion: null, defaultUser: null, minDiskGib: 1 }] } },
      <ProvisionPage />,
    );
    expect(document.querySelector('select[name=image]')).toBeNull();
    expect(screen.getByTestId('no-images')).toHaveTextContent('No images yet — add one on the Images page.');
    expect(screen.getByRole('link', { name: 'add one on the Images page' }).getAttribute('href')).toBe('/images');
  });
});
