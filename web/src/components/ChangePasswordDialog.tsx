import { useState, type FormEvent } from 'react';
import { client } from '../api/client';
import { problemOf, splitByField, type ApiProblem } from '../api/errors';
import { ChangePasswordMutation } from '../api/operations';
import { Field } from './Field';
import { useSession } from '../session';
import { FormError } from './FormError';
import { useModal } from './useModal';

/** Changing the password ends every session of the account, this one too: log in again. */
export function ChangePasswordDialog({ onClose }: { onClose(): void }) {
  const dialog = useModal();
  const { ended } = useSession();
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [repeat, setRepeat] = useState('');
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (next !== repeat) {
      setProblem({ code: 'BAD_INPUT', field: 'repeat', message: 'The two new passwords differ.' });
      return;
    }
    setBusy(true);
    const result = await client.mutation(ChangePasswordMutation, { current, new: next }).toPromise();
    setBusy(false);
    if (result.error) {
      setProblem(problemOf(result.error));
      return;
    }
    onClose();
    ended('Password changed: every session of this account has ended. Log in with the new password.');
  };
  const { fields, general } = splitByField(problem);
  return (
    <dialog ref={dialog} aria-labelledby="password-title" onCancel={onClose}>
      <form className="stack" onSubmit={submit}>
        <h2 id="password-title">Change password</h2>
        <Field label="Current password" error={fields.current}>
          {(props) => (
            <input {...props} type="password" autoComplete="current-password" required value={current} onChange={(e) => setCurrent(e.target.value)} />
          )}
        </Field>
        <Field label="New password" error={fields.new} help="At least 10 characters.">
          {(props) => (
            <input {...props} type="password" autoComplete="new-password" required value={next} onChange={(e) => setNext(e.target.value)} />
          )}
        </Field>
        <Field label="New password again" error={fields.repeat}>
          {(props) => (
            <input {...props} type="password" autoComplete="new-password" required value={repeat} onChange={(e) => setRepeat(e.target.value)} />
          )}
        </Field>
        <FormError message={general} />
        <div className="dialog-actions">
          <button type="button" className="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="button primary" disabled={busy}>
            Change password
          </button>
        </div>
      </form>
    </dialog>
  );
}
