import { describe, expect, it } from 'vitest';
import { groupPolicies, presetMatching } from '../../src/pages/policyGroups';

const policy = (name: string) => ({ name, description: `does ${name}`, vmScoped: name.startsWith('vms:') });

describe('groupPolicies', () => {
  it('groups the catalogue by what the policies are about, in a fixed order', () => {
    const catalogue = ['vms:start', 'users:create', 'auth:me:get', 'vms:connect', 'images:get', 'vms:credentials:list', 'host:get', 'distribox:admin', 'audit:get'].map(policy);
    expect(groupPolicies(catalogue).map((group) => [group.title, group.policies.map((p) => p.name)])).toEqual([
      ['Own account', ['auth:me:get']],
      ['Host and images', ['images:get', 'host:get']],
      ['VMs', ['vms:start']],
      ['Consoles and access', ['vms:connect', 'vms:credentials:list']],
      ['Accounts, audit and administration', ['users:create', 'distribox:admin', 'audit:get']],
    ]);
  });

  it('puts a policy it does not know under Other rather than dropping it', () => {
    expect(groupPolicies([policy('backups:run')])).toEqual([{ title: 'Other', policies: [policy('backups:run')] }]);
  });
});

describe('presetMatching', () => {
  const presets = [
    { name: 'viewer', policies: ['auth:me:get', 'vms:get'] },
    { name: 'admin', policies: ['distribox:admin'] },
  ];

  it('finds the preset with exactly the chosen policies, in any order', () => {
    expect(presetMatching(presets, ['vms:get', 'auth:me:get'])?.name).toBe('viewer');
  });

  it('finds none once a policy is added or taken away', () => {
    expect(presetMatching(presets, ['vms:get', 'auth:me:get', 'vms:start'])).toBeNull();
    expect(presetMatching(presets, ['vms:get'])).toBeNull();
  });
});
