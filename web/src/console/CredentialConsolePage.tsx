// The visitor's console: no account, only the access code the host gave, typed in or carried by
// the link `/connect#code=…` (accessCode.ts says how it is kept out of the address bar and the
// server's logs). The code is kept for this tab, to get a new ticket on each reconnection and
// for either kind of console; a refused, revoked or expired code is forgotten.
import { useCallback, useRef, useState, type FormEvent } from 'react';
import { useSearchParams } from 'react-router-dom';
import { publicClient } from '../api/client';
import { problemOf, type ApiProblem } from '../api/errors';
import { OpenConsoleWithCredentialMutation } from '../api/operations';
import { FormError } from '../components/FormError';
import { forgetCode, rememberCode, takeAccessCode } from './accessCode';
import type { Ending } from './closing';
import { ConsoleScreen, type ConsoleKind } from './ConsoleScreen';
import type { Ticket, TicketResult } from './useConsoleConnection';

async function ticketFor(secret: string, kind: ConsoleKind): Promise<TicketResult> {
  const result = await publicClient.mutation(OpenConsoleWithCredentialMutation, { secret, kind: kind === 'vnc' ? 'VNC' : 'SERIAL' }).toPromise();
  if (result.error || !result.data) return { problem: result.error ? problemOf(result.error) : { code: 'INTERNAL', message: 'No answer.' } };
  return { ticket: result.data.openConsoleWithCredential };
}

/** What the form says about a code the server would not take. */
function refusalOf(problem: ApiProblem): string {
  return problem.code === 'UNAUTHENTICATED' ? `The access code was refused: ${problem.message}.` : problem.message;
}

export default function CredentialConsolePage() {
  const [params, setParams] = useSearchParams();
  // The address keeps the kind for a reload; the state changes together with the code in one
  // render, so a console never mounts as one kind while holding a ticket for the other.
  const [kind, setKind] = useState<ConsoleKind>(() => (params.get('kind') === 'serial' ? 'serial' : 'vnc'));
  // Taken while rendering, so the code leaves the address bar before anything else happens.
  const [code, setCode] = useState(() => takeAccessCode());
  const [refusal, setRefusal] = useState<string | null>(null);
  // Revoked or expired while open: the console stays to say so, the code is already forgotten.
  const [spent, setSpent] = useState(false);
  // The ticket the form got is used for the first connection of its kind; reconnections ask
  // again.
  const first = useRef<{ ticket: Ticket; kind: ConsoleKind } | null>(null);

  const forget = useCallback((why: string | null) => {
    forgetCode(sessionStorage);
    setCode(null);
    setSpent(false);
    setRefusal(why);
  }, []);

  const requestTicket = useCallback(async (): Promise<TicketResult> => {
    const formTicket = first.current;
    first.current = null;
    if (formTicket?.kind === kind) return { ticket: formTicket.ticket };
    const result = await ticketFor(code!, kind);
    // A code from a link, or revoked since: back to the form, which says why.
    if ('problem' in result && result.problem.code === 'UNAUTHENTICATED') forget(refusalOf(result.problem));
    return result;
  }, [code, kind, forget]);

  const onEnded = useCallback((ending: Ending) => {
    if (!ending.accessOver) return;
    forgetCode(sessionStorage);
    setSpent(true);
  }, []);

  const switchKind = (next: ConsoleKind) => {
    setKind(next);
    setParams({ kind: next }, { replace: true });
  };

  if (code) {
    return (
      <ConsoleScreen
        key={kind}
        kind={kind}
        requestTicket={requestTicket}
        onSwitchKind={switchKind}
        onEnded={onEnded}
        back={
          <button type="button" className="back link" title="Disconnect, and forget the code in this tab" onClick={() => forget(null)}>
            {spent ? '← Another code' : 'Forget this code'}
          </button>
        }
      />
    );
  }

  return (
    <CodeForm
      initialKind={kind}
      initialError={refusal}
      onOpen={(secret, ticket, chosen) => {
        first.current = { ticket, kind: chosen };
        rememberCode(sessionStorage, secret);
        setRefusal(null);
        setSpent(false);
        setCode(secret);
        switchKind(chosen);
      }}
    />
  );
}

/** Asks for the code; the first ticket is asked for here, so a wrong code is told on the form. */
function CodeForm({
  initialKind,
  initialError,
  onOpen,
}: {
  initialKind: ConsoleKind;
  /** Why the last code stopped working, if it was refused. */
  initialError: string | null;
  onOpen(secret: string, ticket: Ticket, kind: ConsoleKind): void;
}) {
  const [secret, setSecret] = useState('');
  const [kind, setKind] = useState(initialKind);
  const [error, setError] = useState(initialError);
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const typed = secret.trim();
    setBusy(true);
    setError(null);
    const result = await ticketFor(typed, kind);
    setBusy(false);
    if ('problem' in result) {
      setError(refusalOf(result.problem));
      return;
    }
    onOpen(typed, result.ticket, kind);
  };

  return (
    <main id="main" className="login-main">
      <section className="panel narrow login">
        <h1>Open a console</h1>
        <p className="muted">Enter the access code you were given, or open the link that came with it.</p>
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
