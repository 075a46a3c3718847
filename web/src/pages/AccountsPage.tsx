// Accounts and their policies: create (a generated password is shown once), grant and revoke
// policies for everything or for one VM, disable, delete.
import { useMemo, useState, type FormEvent } from 'react';
import { useQuery } from 'urql';
import { client } from '../api/client';
import { describe, problemOf, splitByField, type ApiProblem } from '../api/errors';
import { AccountsQuery, CreateAccountMutation, PoliciesQuery, DeleteAccountMutation, DisableAccountMutation, GrantPolicyMutation, RevokePolicyMutation } from '../api/operations';
import { Confirm } from '../components/Confirm';
import { Field } from '../components/Field';
import { useNotify } from '../components/Notices';
import { SecretOnce } from '../components/SecretOnce';
import { formatTime } from '../format';
import type { AccountsQuery as AccountsData } from '../gql/graphql';
import { useVmList } from '../live/useVmList';
import { rows } from '../live/vmList';
import { vmLabel } from '../live/vmLabel';
import { ADMIN_POLICY, useSession } from '../session';
import { FormError } from '../components/FormError';

type Account = AccountsData['accounts'][number];

function CreateAccountForm({ policies, onCreated }: { policies: readonly string[]; onCreated(): void }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [chosen, setChosen] = useState<string[]>(['auth:me:get', 'auth:changePassword']);
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
      setProblem(result.error ? problemOf(result.error) : { code: 'INTERNAL', message: 'The server sent no answer.' });
      return;
    }
    const created = result.data.createAccount;
    if (created.password) setGenerated({ username: created.account.username, password: created.password });
    setUsername('');
    setPassword('');
    onCreated();
  };
  const { fields, general } = splitByField(problem);
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
        <fieldset>
          <legend>Policies</legend>
          <div className="policy-grid">
            {policies.map((policy) => (
              <label key={policy}>
                <input
                  type="checkbox"
                  checked={chosen.includes(policy)}
                  onChange={(e) => setChosen(e.target.checked ? [...chosen, policy] : chosen.filter((p) => p !== policy))}
                />{' '}
                {policy}
              </label>
            ))}
          </div>
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

function AccountEditor({ account, policies, vmPolicies, vms, self, onChanged }: { account: Account; policies: readonly string[]; vmPolicies: readonly string[]; vms: { id: string; name: string; ownerName: string | null }[]; self: boolean; onChanged(): void }) {
  const notify = useNotify();
  const { can } = useSession();
  const [vmId, setVmId] = useState('');
  const [vmPolicy, setVmPolicy] = useState(vmPolicies[0] ?? '');
  const [asking, setAsking] = useState<'disable' | 'delete' | null>(null);
  const mayEdit = can('users:updatePolicies');
  const change = async (grant: boolean, policy: string, vm: string | null) => {
    const variables = { accountId: account.id, policy, vmId: vm };
    const result = grant ? await client.mutation(GrantPolicyMutation, variables).toPromise() : await client.mutation(RevokePolicyMutation, variables).toPromise();
    if (result.error) notify(describe(problemOf(result.error)), 'error');
    onChanged();
  };
  const end = async (kind: 'disable' | 'delete') => {
    const result = kind === 'disable' ? await client.mutation(DisableAccountMutation, { id: account.id }).toPromise() : await client.mutation(DeleteAccountMutation, { id: account.id }).toPromise();
    if (result.error) notify(describe(problemOf(result.error)), 'error');
    else notify(`${account.username} ${kind === 'disable' ? 'disabled' : 'deleted'}.`);
    onChanged();
  };
  return (
    <div className="account-editor stack">
      <fieldset disabled={!mayEdit}>
        <legend>Global policies</legend>
        <div className="policy-grid">
          {policies.map((policy) => (
            <label key={policy}>
              <input type="checkbox" checked={account.policies.includes(policy)} onChange={(e) => void change(e.target.checked, policy, null)} /> {policy}
            </label>
          ))}
        </div>
      </fieldset>
      <fieldset disabled={!mayEdit}>
        <legend>Policies for one VM</legend>
        {account.vmGrants.length ? (
          <ul className="list">
            {account.vmGrants.map((grant) => (
              <li key={grant.vmId}>
                <span>
                  <strong>{grant.vmName ?? grant.vmId}</strong>
                  {grant.granted.map((policy) => (
                    <span key={policy} className="chip">
                      {policy}
                      <button type="button" aria-label={`Revoke ${policy} on ${grant.vmName ?? grant.vmId}`} onClick={() => void change(false, policy, grant.vmId)}>
                        ×
                      </button>
                    </span>
                  ))}
                  {grant.denied.map((policy) => (
                    <span key={policy} className="chip denied" title="Taken away from the owner">
                      no {policy}
                      <button type="button" aria-label={`Give back ${policy} on ${grant.vmName ?? grant.vmId}`} onClick={() => void change(true, policy, grant.vmId)}>
                        ↺
                      </button>
                    </span>
                  ))}
                </span>
              </li>
            ))}
          </ul>
        ) : (
          <p className="muted">None.</p>
        )}
        <div className="inline-form">
          <label>
            VM{' '}
            <select value={vmId} onChange={(e) => setVmId(e.target.value)}>
              <option value="">Choose a VM…</option>
              {vms.map((vm) => (
                <option key={vm.id} value={vm.id}>
                  {vmLabel(vm)}
                </option>
              ))}
            </select>
          </label>
          <label>
            Policy{' '}
            <select value={vmPolicy} onChange={(e) => setVmPolicy(e.target.value)}>
              {vmPolicies.map((policy) => (
                <option key={policy}>{policy}</option>
              ))}
            </select>
          </label>
          <button type="button" className="button small" disabled={!vmId || !vmPolicy} onClick={() => void change(true, vmPolicy, vmId)}>
            Grant
          </button>
        </div>
      </fieldset>
      <div className="actions">
        {!account.disabled ? (
          <button type="button" className="button small danger-outline" disabled={self || !can('users:delete')} title={self ? 'You cannot disable your own account' : undefined} onClick={() => setAsking('disable')}>
            Disable
          </button>
        ) : null}
        <button type="button" className="button small danger" disabled={self || !can('users:delete')} title={self ? 'You cannot delete your own account' : undefined} onClick={() => setAsking('delete')}>
          Delete
        </button>
      </div>
      {asking ? (
        <Confirm
          title={`${asking === 'disable' ? 'Disable' : 'Delete'} ${account.username}?`}
          message={<p>Its sessions and consoles end at once.{asking === 'delete' ? ' The username is never used again.' : ''}</p>}
          confirmLabel={asking === 'disable' ? 'Disable' : 'Delete'}
          onCancel={() => setAsking(null)}
          onConfirm={() => {
            const kind = asking;
            setAsking(null);
            void end(kind);
          }}
        />
      ) : null}
    </div>
  );
}

export function AccountsPage() {
  const { account: me, can } = useSession();
  const [{ data, error, fetching }, refetch] = useQuery({ query: AccountsQuery });
  // The catalogue needs policies:get; without it, editors offer what the account already holds.
  const [{ data: catalogue }] = useQuery({ query: PoliciesQuery, pause: !can('policies:get') });
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
        <table className="vm-table">
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
                <td>{account.policies.includes(ADMIN_POLICY) ? <strong>{ADMIN_POLICY}</strong> : `${account.policies.length} global, ${account.vmGrants.length} VM${account.vmGrants.length === 1 ? '' : 's'}`}</td>
                <td>{formatTime(account.createdAt)}</td>
                <td>
                  <button type="button" className="button small" aria-expanded={open === account.id} onClick={() => setOpen(open === account.id ? null : account.id)}>
                    {open === account.id ? 'Close' : 'Manage'}
                  </button>
                </td>
              </tr>
              {open === account.id ? (
                <tr>
                  <td colSpan={4}>
                    <AccountEditor
                      account={account}
                      policies={catalogue?.policies ?? account.policies}
                      vmPolicies={catalogue?.vmPolicies ?? []}
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
      {can('users:create') ? <CreateAccountForm policies={catalogue?.policies ?? []} onCreated={reload} /> : null}
    </>
  );
}
