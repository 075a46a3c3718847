// The dashboard's live list of VMs, as pure functions over an immutable value: a page load
// fills it, each `vmEvents` message patches one VM at once (its state) and names the VMs whose
// details must be fetched again. Unchanged VMs keep their object identity, so their table rows
// do not re-render: that is what keeps a 1,000-VM table responsive.
import type { VmFieldsFragment, VmState } from '../gql/graphql';

export type Vm = VmFieldsFragment;

export interface VmEventMessage {
  vmId: string;
  state: VmState;
  event: string;
  at: string;
}

export interface VmList {
  readonly byId: ReadonlyMap<string, Vm>;
  /** Ids in creation order (the `vms` query's order). */
  readonly order: readonly string[];
  /** Ids seen deleted: a fetch that answers late must not bring them back. */
  readonly deleted: ReadonlySet<string>;
}

export const emptyList: VmList = { byId: new Map(), order: [], deleted: new Set() };

function byCreation(a: Vm, b: Vm): number {
  return a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

function ordered(byId: ReadonlyMap<string, Vm>): string[] {
  return [...byId.values()].sort(byCreation).map((vm) => vm.id);
}

/** The list after a full load: exactly `vms` (deleted ones left out). */
export function loaded(vms: readonly Vm[], previous: VmList = emptyList): VmList {
  const byId = new Map<string, Vm>();
  for (const vm of vms) {
    if (vm.state === 'DELETED') continue;
    // Keep the previous object when nothing changed, so its row does not re-render.
    const before = previous.byId.get(vm.id);
    byId.set(vm.id, before && sameVm(before, vm) ? before : vm);
  }
  return { byId, order: ordered(byId), deleted: previous.deleted };
}

/**
 * A full load that took a while: the snapshot may be older than what events and fetches told
 * about the VMs in `touched` meanwhile, so for those the list keeps what it knew.
 */
export function reconcile(fresh: VmList, during: VmList, touched: ReadonlySet<string>): VmList {
  let list: VmList = { ...fresh, deleted: new Set([...fresh.deleted, ...during.deleted]) };
  for (const id of touched) {
    const known = during.byId.get(id);
    if (during.deleted.has(id)) list = remove(list, id);
    else if (known) list = upsert(list, known);
  }
  return list;
}

/** Adds or replaces one VM with what the server just said about it. */
export function upsert(list: VmList, vm: Vm): VmList {
  if (list.deleted.has(vm.id)) return list;
  if (vm.state === 'DELETED') return remove(list, vm.id);
  const before = list.byId.get(vm.id);
  if (before && sameVm(before, vm)) return list;
  const byId = new Map(list.byId);
  byId.set(vm.id, vm);
  return { byId, order: before ? list.order : ordered(byId), deleted: list.deleted };
}

export function remove(list: VmList, id: string): VmList {
  const deleted = new Set(list.deleted);
  deleted.add(id);
  if (!list.byId.has(id)) return { ...list, deleted };
  const byId = new Map(list.byId);
  byId.delete(id);
  return { byId, order: list.order.filter((other) => other !== id), deleted };
}

/**
 * Applies one live event: the state changes at once; `refetch` names the VM when its other
 * fields (or the VM itself, if new) must be fetched.
 */
export function applyEvent(list: VmList, event: VmEventMessage): { list: VmList; refetch: string | null } {
  if (event.state === 'DELETED') return { list: remove(list, event.vmId), refetch: null };
  const before = list.byId.get(event.vmId);
  if (!before) {
    return { list, refetch: list.deleted.has(event.vmId) ? null : event.vmId };
  }
  if (before.state === event.state) return { list, refetch: event.vmId };
  const byId = new Map(list.byId);
  // The reason explained the old state; the refetch brings the new one's.
  byId.set(event.vmId, { ...before, state: event.state, stateReason: null, pauseReason: null });
  return { list: { ...list, byId }, refetch: event.vmId };
}

function sameVm(a: Vm, b: Vm): boolean {
  return (
    a.state === b.state &&
    a.name === b.name &&
    a.vcpus === b.vcpus &&
    a.memoryMib === b.memoryMib &&
    a.diskGib === b.diskGib &&
    a.failure === b.failure &&
    a.stateReason === b.stateReason &&
    a.pauseReason === b.pauseReason &&
    a.busy === b.busy &&
    a.ownerName === b.ownerName &&
    a.keyboardLayout === b.keyboardLayout &&
    a.note === b.note &&
    sameStrings(a.tags, b.tags) &&
    sameStrings(a.allowed, b.allowed) &&
    sameStrings(a.addresses, b.addresses)
  );
}

function sameStrings(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((value, i) => value === b[i]);
}

/** The VMs in order, for rendering. */
export function rows(list: VmList): Vm[] {
  return list.order.map((id) => list.byId.get(id)).filter((vm): vm is Vm => vm !== undefined);
}
