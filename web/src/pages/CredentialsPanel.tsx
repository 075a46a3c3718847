// A VM's access credentials: issue (with an optional expiry; the secret is shown once, alone and
// in a link that opens the console), revoke, and see when each was last used.
import { useState, type FormEvent } from 'react';
import { client } from '../api/client';
import { describe, problemOf, splitByField, type ApiProblem, problemOfResult } from '../api/errors';
import { IssueCredentialMutation, RevokeCredentialMutation } from '../api/operations';
import { shareLink } from '../console/accessCode';
import { Confirm } from '../components/Confirm';
import { Field } from '../components/Field';
import { useNotify } from '../components/Notices';
import { SecretOnce } from '../components/SecretOnce';
import { formatTime, relativeTime, utcFromLocalInput } from '../format';
import type { VmCredentialsQuery } from '../gql/graphql';
import { FormError } from '../components/FormError';

type Credential = NonNullable<VmCredentialsQuery['vm']>['credentials'][number];

export function credentialStatus(credential: Credential, now = Date.now()): 'active' | 'revoked' | 'expired' {
  if (credential.revokedAt) return 'revoked';
  if (credential.expiresAt && new Date(credential.expiresAt).getTime() <= now) return 'expired';
  return 'active';
}

export interface CredentialsPanelProps {
  vmId: string;
  credentials: readonly Credential[];
  canIssue: boolean;
  canRevoke: boolean;
  onChanged(): void;
}

export function CredentialsPanel({ vmId, credentials, canIssue, canRevoke, onChanged }: CredentialsPanelProps) {
  const notify = useNotify();
  const [name, setName] = useState('');
  const [expires, setExpires] = useState('');
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  const [secret, setSecret] = useState<{ name: string; secret: string } | null>(null);
  const [revoking, setRevoking] = useState<Credential | null>(null);
  // One issue at a time: a second click would issue a second credential and hide the first
  // secret for good.
  const [issuing, setIssuing] = useState(false);

  const issue = async (event: FormEvent) => {
    event.preventDefault();
    if (issuing) return;
    setProblem(null);
    setIssuing(true);
    const result = await client
      .mutation(IssueCredentialMutation, { vmId, name, expiresAt: utcFromLocalInput(expires) })
      .toPromise();
    setIssuing(false);
    if (result.error || !result.data) {
      setProblem(problemOfResult(result.error));
      return;
    }
    setSecret({ name: result.data.issueVmCredential.credential.name, secret: result.data.issueVmCredential.secret });
    setName('');
    setExpires('');
    onChanged();
  };

  const revoke = async (credential: Credential) => {
    const result = await client.mutation(RevokeCredentialMutation, { vmId, credentialId: credential.id }).toPromise();
    if (result.error) notify(describe(problemOf(result.error)), 'error');
    else notify(`${credential.name} revoked: its consoles are closed.`);
    onChanged();
  };

  const { fields, general } = splitByField(problem);
  return (
    <section className="panel" aria-labelledby="credentials-title">
      <h2 id="credentials-title">Access credentials</h2>
      <p className="muted">
        A credential opens this VM&apos;s console at <code>/connect</code> without an account.
      </p>
      {secret ? (
        <SecretOnce
          label={`Access code for ${secret.name}`}
          secret={secret.secret}
          link={{
            url: shareLink(window.location.origin, secret.secret),
            note: 'The link opens the console directly. The code is in the part after #, which browsers never send to the server.',
          }}
          onDone={() => setSecret(null)}
        />
      ) : null}
      {credentials.length ? (
        <table className="vm-table compact">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Status</th>
              <th scope="col">Expires</th>
              <th scope="col">Last used</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {credentials.map((credential) => {
              const status = credentialStatus(credential);
              return (
                <tr key={credential.id} data-credential={credential.name} data-status={status}>
                  <th scope="row">{credential.name}</th>
                  <td>
                    <span className="badge" data-state={status === 'active' ? 'RUNNING' : 'STOPPED'}>
                      {status}
                    </span>
                  </td>
                  <td title={formatTime(credential.expiresAt)}>{credential.expiresAt ? relativeTime(credential.expiresAt) : 'never'}</td>
                  <td title={formatTime(credential.lastUsedAt)}>{credential.lastUsedAt ? relativeTime(credential.lastUsedAt) : 'never'}</td>
                  <td>
                    {status === 'active' ? (
                      <button
                        type="button"
                        className="button small danger-outline"
                        disabled={!canRevoke}
                        title={canRevoke ? undefined : 'Needs the vms:credentials:revoke policy'}
                        onClick={() => setRevoking(credential)}
                      >
                        Revoke
                      </button>
                    ) : null}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      ) : (
        <p className="empty">No credentials issued.</p>
      )}
      {canIssue ? (
        <form className="inline-form" onSubmit={issue}>
          <Field label="Name" error={fields.name}>
            {(props) => <input {...props} name="credentialName" required value={name} onChange={(e) => setName(e.target.value)} />}
          </Field>
          <Field label="Expires (optional)" error={fields.expiresAt}>
            {(props) => <input {...props} name="expiresAt" type="datetime-local" value={expires} onChange={(e) => setExpires(e.target.value)} />}
          </Field>
          <button type="submit" className="button primary" disabled={issuing}>
            Issue credential
          </button>
          <FormError message={general} />
        </form>
      ) : (
        <p className="muted" data-missing-policy="vms:credentials:create">
          Issuing credentials needs the vms:credentials:create policy.
        </p>
      )}
      {revoking ? (
        <Confirm
          title={`Revoke ${revoking.name}?`}
          message={<p>Its open consoles close at once and the code stops working.</p>}
          confirmLabel="Revoke"
          onCancel={() => setRevoking(null)}
          onConfirm={() => {
            const credential = revoking;
            setRevoking(null);
            void revoke(credential);
          }}
        />
      ) : null}
    </section>
  );
}
