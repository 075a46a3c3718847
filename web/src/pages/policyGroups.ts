// The policy catalogue in groups a person scans: what an account may do for itself, with the
// host and images, with VMs, who else may reach a VM, and running Distribox. Policies are
// grouped by name, so a policy added on the server lands in its group (or "Other") unaided.

export interface PolicyInfo {
  name: string;
  description: string;
  vmScoped: boolean;
}

export interface PolicyGroup {
  title: string;
  policies: PolicyInfo[];
}

const OWN = 'Own account';
const HOST = 'Host and images';
const VMS = 'VMs';
const ACCESS = 'Consoles and access';
const ADMIN = 'Accounts, audit and administration';
const OTHER = 'Other';

/** The groups in the order shown. */
const ORDER = [OWN, HOST, VMS, ACCESS, ADMIN, OTHER];

function groupOf(name: string): string {
  const [family] = name.split(':');
  if (family === 'auth') return OWN;
  if (family === 'host' || family === 'images') return HOST;
  if (name === 'vms:connect' || name === 'vms:screenshot' || name.startsWith('vms:credentials:')) return ACCESS;
  if (family === 'vms') return VMS;
  if (['users', 'policies', 'audit', 'usage', 'distribox'].includes(family)) return ADMIN;
  return OTHER;
}

/** `catalogue` in its groups, catalogue order kept within each; empty groups left out. */
export function groupPolicies(catalogue: readonly PolicyInfo[]): PolicyGroup[] {
  return ORDER.map((title) => ({ title, policies: catalogue.filter((policy) => groupOf(policy.name) === title) })).filter(
    (group) => group.policies.length > 0,
  );
}

/** The preset whose policies are exactly `chosen`, if any: what the role picker shows. */
export function presetMatching<P extends { policies: readonly string[] }>(presets: readonly P[], chosen: readonly string[]): P | null {
  const wanted = new Set(chosen);
  return presets.find((preset) => preset.policies.length === wanted.size && preset.policies.every((p) => wanted.has(p))) ?? null;
}
