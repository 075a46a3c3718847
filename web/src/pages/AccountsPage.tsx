// Accounts and their policies: create one from a role preset (a generated password is shown
// once), grant and revoke policies for everything or for one VM, disable and enable, delete.
import { useMemo, useState, type FormEvent } from 'react';
import { useQuery } from 'urql';
import { client } from '../api/client';
import { describe, problemOf, splitByField, type ApiProblem, problemOfResult } from '../api/errors';
import {
  AccountsQuery,
  CreateAccountMutation,
  DeleteAccountMutation,
  DisableAccountMutation,
  EnableAccountMutation,
  GrantPoliciesMutation,
  GrantPolicyMutation,
  PolicyCatalogueQuery,
  RevokePolicyMutation,
} from '../api/operations';
import { Confirm } from '../components/Confirm';
import { Field } from '../components/Field';
import { useNotify } from '../components/Notices';
import { SecretOnce } from '../components/SecretOnce';
import { formatTime } from '../format';
import type { AccountsQuery as AccountsData, PolicyCatalogueQuery as CatalogueData } from '../gql/graphql';
import { useVmList } from '../live/useVmList';
import { rows } from '../live/vmList';
import { vmLabel } from '../live/vmLabel';
import { ADMIN_POLICY, useSession } from '../session';
import { FormError } from '../components/FormError';
import { PolicyChecklist } from './PolicyChecklist';
import { presetMatching, type PolicyInfo } from './policyGroups';
import './accounts.css';

type Account = AccountsData['accounts'][number];
type RolePreset = CatalogueData['rolePresets'][number];
type VmChoice = { id: string; name: string; ownerName: string | null };

/** What every account with a login needs, and what a new account starts with. */
const SELF_SERVICE = ['auth:me:get', 'auth:changePassword'];

/** Names without descriptions: what an editor offers when the catalogue may not be read. */
function bareCatalogue(names: readonly string[]): PolicyInfo[] {
  return names.map((name) => ({ name, description: '', vmScoped: false }));
}

function toggled(chosen: readonly string[], policy: string, on: boolean): string[] {
  return on ? [...chosen.filter((p) => p !== policy), policy] : chosen.filter((p) => p !== policy);
}

/** A role picker that fills the policies in; shows "Custom" once they no longer match a preset. */
function RolePicker({ presets, chosen, onChoose }: { presets: readonly RolePreset[]; chosen: readonly string[]; onChoose(policies: string[]): void }) {
  const matching = presetMatching(presets, chosen);
  return (
    <div className="account-role">
      <Field label="Role" help={matching ? matching.description : 'Custom: the policies ticked below.'}>
        {(props) => (
          <select
            {...props}
            name="role"
            value={matching?.name ?? ''}
            onChange={(e) => {
              const preset = presets.find((p) => p.name === e.target.value);
              if (preset) onChoose([...preset.policies]);
            }}
          >
            <option value="">Custom</option>
            {presets.map((preset) => (
              <option key={preset.name} value={preset.name}>
                {preset.label}
              </option>
            ))}
          </select>
        )}
      </Field>
    </div>
  );
}

function CreateAccountForm({ catalogue, presets, onCreated }: { catalogue: readonly PolicyInfo[]; presets: readonly RolePreset[]; onCreated(): void }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [chosen, setChosen] = useState<string[]>(SELF_SERVICE);
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  const [generated, setGenerated] = useState<{ username: string; password: string } | null>(null);
  const [creating, setCreating] = useState(false);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (creating) return;
    setProblem(null);
    setCreating(true);
    const result = await client
      .mutation(CreateAccountMutation, { input: { username, password: password || null, policies: chosen } })
      .toPromise();
    setCreating(false);
    if (result.error || !result.data) {
      setProblem(problemOfResult(result.error));
      return;
    }
    const created = result.data.createAccount;
    if (created.password) setGenerated({ username: created.account.username, password: created.password });
    setUsername('');
    setPassword('');
    onCreated();
  };
  const { fields, general } = splitByField(problem, ['username', 'password']);
  return (
    <section className="panel" aria-labelledby="new-account-title">
      <h2 id="new-account-title">New account</h2>
      {generated ? <SecretOnce label={`Password for ${generated.username}`} secret={generated.password} onDone={() => setGenerated(null)} /> : null}
      <form className="stack" onSubmit={submit}>
        <div className="grid-2">
          <Field label="Username" error={fields.username}>
            {(props) => <input {...props} name="newUsername" required autoComplete="off" value={username} onChange={(e) => setUsername(e.target.value)} />}
          </Field>
          <Field label="Password" error={fields.password} help="Leave empty to have one generated and shown once.">
            {(props) => <input {...props} name="newPassword" type="password" autoComplete="new-password" value={password} onChange={(e) => setPassword(e.target.value)} />}
          </Field>
        </div>
        {presets.length ? <RolePicker presets={presets} chosen={chosen} onChoose={setChosen} /> : null}
        <fieldset>
          <legend>Policies</legend>
          <PolicyChecklist label="Policies of the new account" catalogue={catalogue} chosen={chosen} onToggle={(policy, on) => setChosen(toggled(chosen, policy, on))} />
        </fieldset>
        <FormError message={general} />
        <div className="form-actions">
          <button type="submit" className="button primary" disabled={creating}>
            Create account
          </button>
        </div>
      </form>
    </section>
  );
}

/** Grants several policies on one VM at once (all or none). */
function VmGrantForm({ account, vmPolicies, vms, onChanged }: { account: Account; vmPolicies: readonly PolicyInfo[]; vms: readonly VmChoice[]; onChanged(): void }) {
  const notify = useNotify();
  const [vmId, setVmId] = useState('');
  const [chosen, setChosen] = useState<string[]>([]);
  const [busy, setBusy] = useState(false);
  const grant = async () => {
    setBusy(true);
    const result = await client.mutation(GrantPoliciesMutation, { accountId: account.id, policies: chosen, vmId }).toPromise();
    setBusy(false);
    if (result.error) {
      notify(describe(problemOf(result.error)), 'error');
      return;
    }
    setChosen([]);
    onChanged();
  };
  const count = chosen.length;
  return (
    <div className="stack vm-grant-form">
      <Field label="VM">
        {(props) => (
          <select {...props} name="grantVm" value={vmId} onChange={(e) => setVmId(e.target.value)}>
            <option value="">Choose a VM…</option>
            {vms.map((vm) => (
              <option key={vm.id} value={vm.id}>
                {vmLabel(vm)}
              </option>
            ))}
          </select>
        )}
      </Field>
      <PolicyChecklist label={`Policies to grant ${account.username} on the VM`} catalogue={vmPolicies} chosen={chosen} onToggle={(policy, on) => setChosen(toggled(chosen, policy, on))} />
      <div className="form-actions">
        <button type="button" className="button small" disabled={!vmId || !count || busy} onClick={() => void grant()}>
          {count > 1 ? `Grant ${count} policies` : 'Grant'}
        </button>
      </div>
    </div>
  );
}

function VmGrantList({ account, onChange }: { account: Account; onChange(grant: boolean, policy: string, vmId: string): void }) {
  if (!account.vmGrants.length) return <p className="muted">None.</p>;
  return (
    <ul className="list">
      {account.vmGrants.map((grant) => (
        <li key={grant.vmId}>
          <span>
            <strong>{grant.vmName ?? grant.vmId}</strong>
            {grant.granted.map((policy) => (
              <span key={policy} className="chip">
                {policy}
                <button type="button" aria-label={`Revoke ${policy} on ${grant.vmName ?? grant.vmId}`} onClick={() => onChange(false, policy, grant.vmId)}>
                  ×
                </button>
              </span>
            ))}
            {grant.denied.map((policy) => (
              <span key={policy} className="chip denied" title="Taken away from the owner">
                no {policy}
                <button type="button" aria-label={`Give back ${policy} on ${grant.vmName ?? grant.vmId}`} onClick={() => onChange(true, policy, grant.vmId)}>
                  ↺
                </button>
              </span>
            ))}
          </span>
        </li>
      ))}
    </ul>
  );
}

/** Disable (asked first: its sessions end), enable, delete. */
function AccountActions({ account, self, onChanged }: { account: Account; self: boolean; onChanged(): void }) {
  const notify = useNotify();
  const { can } = useSession();
  const [asking, setAsking] = useState<'disable' | 'delete' | null>(null);
  const mayChange = can('users:delete') && !self;
  const selfNote = self ? 'You cannot disable or delete your own account' : undefined;
  const run = async (kind: 'disable' | 'enable' | 'delete') => {
    const id = account.id;
    const result =
      kind === 'disable'
        ? await client.mutation(DisableAccountMutation, { id }).toPromise()
        : kind === 'enable'
          ? await client.mutation(EnableAccountMutation, { id }).toPromise()
          : await client.mutation(DeleteAccountMutation, { id }).toPromise();
    if (result.error) notify(describe(problemOf(result.error)), 'error');
    else notify(kind === 'enable' ? `${account.username} can log in again.` : `${account.username} ${kind === 'disable' ? 'disabled' : 'deleted'}.`);
    onChanged();
  };
  return (
    <div className="actions">
      {account.disabled ? (
        <button type="button" className="button small" disabled={!mayChange} onClick={() => void run('enable')}>
          Enable
        </button>
      ) : (
        <button type="button" className="button small danger-outline" disabled={!mayChange} title={selfNote} onClick={() => setAsking('disable')}>
          Disable
        </button>
      )}
      <button type="button" className="button small danger" disabled={!mayChange} title={selfNote} onClick={() => setAsking('delete')}>
        Delete
      </button>
      {asking ? (
        <Confirm
          title={`${asking === 'disable' ? 'Disable' : 'Delete'} ${account.username}?`}
          message={<p>Its sessions and consoles end at once.{asking === 'delete' ? ' The username is never used again.' : ' Enabling it later lets it log in again.'}</p>}
          confirmLabel={asking === 'disable' ? 'Disable' : 'Delete'}
          onCancel={() => setAsking(null)}
          onConfirm={() => {
            const kind = asking;
            setAsking(null);
            void run(kind);
          }}
        />
      ) : null}
    </div>
  );
}

function AccountEditor({ account, catalogue, vms, self, onChanged }: { account: Account; catalogue: readonly PolicyInfo[]; vms: readonly VmChoice[]; self: boolean; onChanged(): void }) {
  const notify = useNotify();
  const { can } = useSession();
  const mayEdit = can('users:updatePolicies');
  const change = async (grant: boolean, policy: string, vmId: string | null) => {
    const variables = { accountId: account.id, policy, vmId };
    const result = grant ? await client.mutation(GrantPolicyMutation, variables).toPromise() : await client.mutation(RevokePolicyMutation, variables).toPromise();
    if (result.error) notify(describe(problemOf(result.error)), 'error');
    onChanged();
  };
  const vmPolicies = useMemo(() => catalogue.filter((policy) => policy.vmScoped), [catalogue]);
  return (
    <div className="account-editor stack">
      <fieldset disabled={!mayEdit}>
        <legend>Global policies</legend>
        <PolicyChecklist label={`Global policies of ${account.username}`} catalogue={catalogue} chosen={account.policies} onToggle={(policy, on) => void change(on, policy, null)} />
      </fieldset>
      <fieldset disabled={!mayEdit}>
        <legend>Policies for one VM</legend>
        <VmGrantList account={account} onChange={(grant, policy, vmId) => void change(grant, policy, vmId)} />
        {vmPolicies.length ? <VmGrantForm account={account} vmPolicies={vmPolicies} vms={vms} onChanged={onChanged} /> : null}
      </fieldset>
      <AccountActions account={account} self={self} onChanged={onChanged} />
    </div>
  );
}

export function AccountsPage() {
  const { account: me, can } = useSession();
  const [{ data, error, fetching }, refetch] = useQuery({ query: AccountsQuery });
  // The catalogue needs policies:get; without it, editors offer what the account already holds.
  const [{ data: catalogue }] = useQuery({ query: PolicyCatalogueQuery, pause: !can('policies:get') });
  const [open, setOpen] = useState<string | null>(null);
  const live = useVmList();
  const vms = useMemo(() => rows(live.list).map(({ id, name, ownerName }) => ({ id, name, ownerName })), [live.list]);
  const reload = () => refetch({ requestPolicy: 'network-only' });
  if (error) {
    return (
      <section className="panel narrow">
        <FormError message={describe(problemOf(error))} />
      </section>
    );
  }
  const accounts = data?.accounts ?? [];
  return (
    <>
      <section className="panel">
        <h1>Accounts</h1>
        {fetching && !data ? <p className="muted">Loading…</p> : null}
        <table className="vm-table accounts-table">
          <thead>
            <tr>
              <th scope="col">Username</th>
              <th scope="col">Policies</th>
              <th scope="col">Created</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          {accounts.map((account) => (
            <tbody key={account.id} data-account={account.username}>
              <tr>
                <th scope="row">
                  {account.username} {account.disabled ? <span className="badge" data-state="STOPPED">disabled</span> : null}
                </th>
                <td data-label="Policies">
                  {account.policies.includes(ADMIN_POLICY) ? <strong>{ADMIN_POLICY}</strong> : `${account.policies.length} global, ${account.vmGrants.length} VM${account.vmGrants.length === 1 ? '' : 's'}`}
                </td>
                <td data-label="Created">{formatTime(account.createdAt)}</td>
                <td className="actions-cell">
                  <button type="button" className="button small" aria-expanded={open === account.id} onClick={() => setOpen(open === account.id ? null : account.id)}>
                    {open === account.id ? 'Close' : 'Manage'}
                  </button>
                </td>
              </tr>
              {open === account.id ? (
                <tr>
                  <td colSpan={4} className="account-editor-cell">
                    <AccountEditor
                      account={account}
                      catalogue={catalogue?.policyCatalogue ?? bareCatalogue(account.policies)}
                      vms={vms}
                      self={account.id === me?.id}
                      onChanged={reload}
                    />
                  </td>
                </tr>
              ) : null}
            </tbody>
          ))}
        </table>
      </section>
      {can('users:create') ? <CreateAccountForm catalogue={catalogue?.policyCatalogue ?? []} presets={catalogue?.rolePresets ?? []} onCreated={reload} /> : null}
    </>
  );
}
