// The client's copy of the VM list, kept current by `vmEvents`.

import { can, gql } from './api.js';

export const VM_FIELDS = 'id name state image vcpus memoryMib diskGib failure createdAt';
const PAGE = 200;

const vms = new Map();
const deleting = new Set();
// VMs seen deleted. Ids are never reused, so an answer about one that arrives later (a refresh
// that was already under way when the deletion came in) must not bring it back.
const gone = new Set();
const listeners = new Set();
const inflight = new Map();
let loaded = false;
let loading = null;
let touchedWhileLoading = null;
let reloadAfter = false;

function changed(id) {
  for (const listener of listeners) {
    try {
      listener(id);
    } catch (error) {
      console.error(error);
    }
  }
}

function byCreation(a, b) {
  if (a.createdAt !== b.createdAt) return Date.parse(a.createdAt) - Date.parse(b.createdAt);
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

export const store = {
  get loaded() {
    return loaded;
  },

  /** VMs in creation order. */
  list() {
    return [...vms.values()].sort(byCreation);
  },

  get(id) {
    return vms.get(id);
  },

  isDeleting(id) {
    return deleting.has(id);
  },

  /** `listener(id)` after one VM changed, `listener(null)` after the whole list was reloaded. */
  subscribe(listener) {
    listeners.add(listener);
    return () => listeners.delete(listener);
  },

  put(vm) {
    if (!vm || gone.has(vm.id)) return;
    touchedWhileLoading?.add(vm.id);
    if (vm.state === 'DELETED') {
      this.remove(vm.id);
      return;
    }
    vms.set(vm.id, vm);
    changed(vm.id);
  },

  remove(id) {
    touchedWhileLoading?.add(id);
    gone.add(id);
    deleting.delete(id);
    if (vms.delete(id)) changed(id);
  },

  markDeleting(id, on = true) {
    if (on) deleting.add(id);
    else deleting.delete(id);
    changed(id);
  },

  clear() {
    vms.clear();
    deleting.clear();
    gone.clear();
    loaded = false;
    changed(null);
  },

  /** Whether the list has been, or is being, fetched. */
  get wanted() {
    return loaded || loading !== null;
  },

  /** Fetches every page of `vms`. With `fresh`, a fetch already under way is followed by another,
   * so the answer is no older than the call. */
  load({ fresh = false } = {}) {
    if (loading) {
      if (fresh) reloadAfter = true;
      return loading;
    }
    loading = (async () => {
      touchedWhileLoading = new Set();
      try {
        const all = [];
        let after = null;
        for (;;) {
          const data = await gql(
            `query Vms($first: Int, $after: String) {
              vms(first: $first, after: $after) {
                edges { node { ${VM_FIELDS} } }
                pageInfo { hasNextPage endCursor }
              }
            }`,
            { first: PAGE, after },
          );
          all.push(...data.vms.edges.map((edge) => edge.node));
          if (!data.vms.pageInfo.hasNextPage || !data.vms.pageInfo.endCursor) break;
          after = data.vms.pageInfo.endCursor;
        }
        const touched = touchedWhileLoading;
        touchedWhileLoading = null;
        vms.clear();
        for (const vm of all) if (vm.state !== 'DELETED' && !gone.has(vm.id)) vms.set(vm.id, vm);
        for (const id of deleting) if (!vms.has(id)) deleting.delete(id);
        loaded = true;
        changed(null);
        // Events that arrived while the pages were loading may be newer than the pages.
        for (const id of touched) this.refresh(id);
      } finally {
        touchedWhileLoading = null;
        loading = null;
      }
      if (reloadAfter) {
        reloadAfter = false;
        await this.load();
      }
    })();
    return loading;
  },

  /** Refetches one VM; null from the server means it is gone. Concurrent calls coalesce. */
  async refresh(id) {
    if (!can('vms:getById')) return;
    const running = inflight.get(id);
    if (running) {
      running.again = true;
      return;
    }
    const job = { again: false };
    inflight.set(id, job);
    try {
      do {
        job.again = false;
        const data = await gql(`query Vm($id: ID!) { vm(id: $id) { ${VM_FIELDS} } }`, { id });
        if (data.vm) this.put(data.vm);
        else this.remove(id);
      } while (job.again);
    } catch (error) {
      console.warn('could not refresh VM', id, error);
    } finally {
      inflight.delete(id);
    }
  },

  /** A `vmEvents` message: show the new state at once, then fetch the whole VM. */
  applyEvent(event) {
    if (!event?.vmId) return;
    const known = vms.get(event.vmId);
    if (event.state === 'DELETED') {
      this.remove(event.vmId);
      return;
    }
    if (known && known.state !== event.state) {
      vms.set(event.vmId, { ...known, state: event.state });
      changed(event.vmId);
    }
    touchedWhileLoading?.add(event.vmId);
    this.refresh(event.vmId);
  },
};
