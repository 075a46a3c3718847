// VMs may share a name (each account names its own), so wherever one is picked or listed the
// owner and the start of the id tell them apart: "web (alice · 1b4e28ba)".

/** The first 8 characters of an id: enough to tell a handful of VMs apart at a glance. */
export function shortId(id: string): string {
  return id.slice(0, 8);
}

export function vmLabel(vm: { id: string; name: string; ownerName?: string | null }): string {
  // A deleted owner leaves no name; the id still tells the VM apart.
  const owner = vm.ownerName ?? 'deleted account';
  return `${vm.name} (${owner} · ${shortId(vm.id)})`;
}
