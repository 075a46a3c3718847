import { useState, type FormEvent } from 'react';
import { Link, Navigate, useSearchParams } from 'react-router-dom';
import { client } from '../api/client';
import { describe, problemOfResult } from '../api/errors';
import { LoginMutation } from '../api/operations';
import { useSession } from '../session';
import { FormError } from '../components/FormError';

/**
 * Where to go after logging in: a path on this site only, so a crafted link can't send a fresh
 * login elsewhere (`//evil`, `/\\evil` and `https:…` all resolve to other origins).
 */
export function safeNext(next: string | null, origin: string = window.location.origin): string {
  if (!next || !next.startsWith('/')) return '/';
  let url: URL;
  try {
    url = new URL(next, origin);
  } catch {
    return '/';
  }
  if (url.origin !== origin || url.pathname.startsWith('/login')) return '/';
  return url.pathname + url.search + url.hash;
}

export function LoginPage() {
  const { account, start, endedBecause } = useSession();
  const [params] = useSearchParams();
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  if (account) return <Navigate to={safeNext(params.get('next'))} replace />;

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    const result = await client.mutation(LoginMutation, { username, password }).toPromise();
    setBusy(false);
    if (result.error || !result.data) {
      setError(describe(problemOfResult(result.error)));
      setPassword('');
      return;
    }
    // The server has set the session cookie; the token is not even asked for.
    start(result.data.login.account);
  };

  return (
    <main id="main" className="login-main">
      <section className="panel narrow login">
        <h1>Log in to Distribox</h1>
        {endedBecause ? (
          <p className="notice-inline" role="status">
            {endedBecause}
          </p>
        ) : null}
        <form className="stack" onSubmit={submit}>
          <div className="field">
            <label htmlFor="username">Username</label>
            <input id="username" autoComplete="username" required value={username} onChange={(e) => setUsername(e.target.value)} />
          </div>
          <div className="field">
            <label htmlFor="password">Password</label>
            <input
              id="password"
              type="password"
              autoComplete="current-password"
              required
              value={password}
              onChange={(e) => setPassword(e.target.value)}
            />
          </div>
          <FormError message={error} />
          <button type="submit" className="button primary wide" disabled={busy}>
            {busy ? 'Logging in…' : 'Log in'}
          </button>
        </form>
        <p className="muted">
          Given an access code for a VM? <Link to="/connect">Open its console</Link>.
        </p>
      </section>
    </main>
  );
}
