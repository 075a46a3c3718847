// What the VM table shows of the list: a search, filters and an order, kept in the address's
// query string (`?q=web&state=RUNNING&sort=cpu&order=desc`) so a link or a reload shows the same
// rows. Pure functions over the live list, so the table re-sorts as events arrive.
import type { VmState } from '../gql/graphql';
import { stateLabel } from '../format';
import type { Vm } from './vmList';

/** A running VM's last usage sample. */
export interface LiveUsage {
  /** Of all its vCPUs together: 100 = every vCPU busy. */
  cpuPercent: number;
  memoryUsedMib: number;
  sampledAt: string;
}

export type SortKey = 'name' | 'state' | 'owner' | 'image' | 'created' | 'vcpus' | 'memory' | 'cpu' | 'memoryUse';

export interface VmView {
  search: string;
  state: VmState | null;
  owner: string | null;
  image: string | null;
  sort: SortKey;
  descending: boolean;
}

/** The list's own order: oldest first, as the server lists VMs. */
export const DEFAULT_VIEW: VmView = { search: '', state: null, owner: null, image: null, sort: 'created', descending: false };

export const SORT_LABELS: Record<SortKey, string> = {
  name: 'Name',
  state: 'State',
  owner: 'Owner',
  image: 'Image',
  created: 'Created',
  vcpus: 'vCPUs',
  memory: 'Memory',
  cpu: 'CPU use',
  memoryUse: 'Memory use',
};

const STATES: readonly VmState[] = ['PENDING', 'STOPPED', 'STARTING', 'RUNNING', 'PAUSED', 'STOPPING', 'CRASHED', 'FAILED'];

function isSortKey(value: string | null): value is SortKey {
  return value !== null && Object.hasOwn(SORT_LABELS, value);
}

function isState(value: string | null): value is VmState {
  return STATES.includes(value as VmState);
}

/** The view an address asks for; what it does not say (or says wrong) is the default. */
export function viewFromParams(params: URLSearchParams): VmView {
  const sort = params.get('sort');
  const state = params.get('state');
  return {
    search: params.get('q') ?? '',
    state: isState(state) ? state : null,
    owner: params.get('owner') || null,
    image: params.get('image') || null,
    sort: isSortKey(sort) ? sort : DEFAULT_VIEW.sort,
    descending: params.get('order') === 'desc',
  };
}

/** The query string for a view: only what differs from the default, so plain links stay plain. */
export function paramsFromView(view: VmView): URLSearchParams {
  const params = new URLSearchParams();
  if (view.search) params.set('q', view.search);
  if (view.state) params.set('state', view.state);
  if (view.owner) params.set('owner', view.owner);
  if (view.image) params.set('image', view.image);
  if (view.sort !== DEFAULT_VIEW.sort) params.set('sort', view.sort);
  if (view.descending) params.set('order', 'desc');
  return params;
}

export function isFiltered(view: VmView): boolean {
  return Boolean(view.search.trim() || view.state || view.owner || view.image);
}

/** A header clicked: the same column turns around; a new one starts with text A–Z, numbers largest first. */
export function nextSort(view: VmView, key: SortKey): VmView {
  if (view.sort === key) return { ...view, descending: !view.descending };
  return { ...view, sort: key, descending: !['name', 'state', 'owner', 'image'].includes(key) };
}

/**
 * Whether a VM matches a search: every word must be found in its name, owner, image, tags or
 * note, or begin its id (ids are long; people paste their start).
 */
export function matchesSearch(vm: Vm, search: string): boolean {
  const words = search.toLowerCase().split(/\s+/).filter(Boolean);
  if (!words.length) return true;
  const text = [vm.name, vm.ownerName ?? '', vm.image, ...vm.tags, vm.note ?? ''].join('\n').toLowerCase();
  const id = vm.id.toLowerCase();
  return words.every((word) => text.includes(word) || id.startsWith(word));
}

const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });

type Value = string | number | null;

function sortValue(vm: Vm, key: SortKey, usage: LiveUsage | undefined): Value {
  switch (key) {
    case 'name':
      return vm.name;
    case 'state':
      return stateLabel(vm.state);
    case 'owner':
      return vm.ownerName;
    case 'image':
      return vm.image;
    case 'created':
      return vm.createdAt;
    case 'vcpus':
      return vm.vcpus;
    case 'memory':
      return vm.memoryMib;
    case 'cpu':
      return usage?.cpuPercent ?? null;
    case 'memoryUse':
      return usage?.memoryUsedMib ?? null;
  }
}

function compare(a: Value, b: Value): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return collator.compare(String(a), String(b));
}

/**
 * The rows to show, in order. VMs without a value for the column (a stopped VM has no CPU use,
 * an owner may be deleted) come last either way; ties keep the list's creation order.
 */
export function visibleVms(vms: readonly Vm[], view: VmView, usage: ReadonlyMap<string, LiveUsage>): Vm[] {
  const shown = vms.filter(
    (vm) =>
      (!view.state || vm.state === view.state) &&
      (!view.owner || vm.ownerName === view.owner) &&
      (!view.image || vm.image === view.image) &&
      matchesSearch(vm, view.search),
  );
  if (view.sort === 'created') return view.descending ? shown.reverse() : shown;
  const sign = view.descending ? -1 : 1;
  const keyed = shown.map((vm, index) => ({ vm, index, value: sortValue(vm, view.sort, usage.get(vm.id)) }));
  keyed.sort((a, b) => {
    if (a.value === null || b.value === null) return a.value === b.value ? a.index - b.index : a.value === null ? 1 : -1;
    return sign * compare(a.value, b.value) || a.index - b.index;
  });
  return keyed.map(({ vm }) => vm);
}

/** The values each filter offers: those the VMs have, and the one chosen even if none has it now. */
export function filterChoices(vms: readonly Vm[], view: VmView): { states: VmState[]; owners: string[]; images: string[] } {
  const states = new Set<VmState>(view.state ? [view.state] : []);
  const owners = new Set<string>(view.owner ? [view.owner] : []);
  const images = new Set<string>(view.image ? [view.image] : []);
  for (const vm of vms) {
    states.add(vm.state);
    if (vm.ownerName) owners.add(vm.ownerName);
    images.add(vm.image);
  }
  return {
    states: STATES.filter((state) => states.has(state)),
    owners: [...owners].sort(collator.compare),
    images: [...images].sort(collator.compare),
  };
}
