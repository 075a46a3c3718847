// The user console: no account, just the access code the host gave. The code stays in this
// page's memory only (never in the URL or storage), to get a new ticket on each reconnection.
import { useCallback, useRef, useState, type FormEvent } from 'react';
import { publicClient } from '../api/client';
import { problemOf } from '../api/errors';
import { OpenConsoleWithCredentialMutation } from '../api/operations';
import { ConsoleScreen, type ConsoleKind } from './ConsoleScreen';
import type { Ticket, TicketResult } from './useConsoleConnection';
import { FormError } from '../components/FormError';

async function ticketFor(secret: string, kind: ConsoleKind): Promise<TicketResult> {
  const result = await publicClient.mutation(OpenConsoleWithCredentialMutation, { secret, kind: kind === 'vnc' ? 'VNC' : 'SERIAL' }).toPromise();
  if (result.error || !result.data) return { problem: result.error ? problemOf(result.error) : { code: 'INTERNAL', message: 'No answer.' } };
  return { ticket: result.data.openConsoleWithCredential };
}

export default function CredentialConsolePage() {
  const [secret, setSecret] = useState('');
  const [kind, setKind] = useState<ConsoleKind>('vnc');
  const [open, setOpen] = useState<{ secret: string; kind: ConsoleKind } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  // The ticket the form got is used for the first connection; reconnections ask again.
  const first = useRef<Ticket | null>(null);
  const requestTicket = useCallback(async (): Promise<TicketResult> => {
    const ticket = first.current;
    first.current = null;
    return ticket ? { ticket } : ticketFor(open!.secret, open!.kind);
  }, [open]);

  if (open) {
    return (
      <ConsoleScreen
        kind={open.kind}
        requestTicket={requestTicket}
        back={
          <button type="button" className="back link" onClick={() => setOpen(null)}>
            ← Another code
          </button>
        }
      />
    );
  }

  // The first ticket is asked for here, so a wrong code is told on the form.
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    const result = await ticketFor(secret.trim(), kind);
    setBusy(false);
    if ('problem' in result) {
      setError(result.problem.message);
      return;
    }
    first.current = result.ticket;
    setOpen({ secret: secret.trim(), kind });
    setSecret('');
  };

  return (
    <main id="main" className="login-main">
      <section className="panel narrow login">
        <h1>Open a console</h1>
        <p className="muted">Enter the access code you were given.</p>
        <form className="stack" onSubmit={submit}>
          <div className="field">
            <label htmlFor="secret">Access code</label>
            <input id="secret" type="password" autoComplete="off" required value={secret} onChange={(e) => setSecret(e.target.value)} />
          </div>
          <fieldset className="radio-row">
            <legend>Console</legend>
            <label>
              <input type="radio" name="kind" checked={kind === 'vnc'} onChange={() => setKind('vnc')} /> Graphical
            </label>
            <label>
              <input type="radio" name="kind" checked={kind === 'serial'} onChange={() => setKind('serial')} /> Serial
            </label>
          </fieldset>
          <FormError message={error} />
          <button type="submit" className="button primary wide" disabled={busy}>
            {busy ? 'Opening…' : 'Open console'}
          </button>
        </form>
      </section>
    </main>
  );
}
