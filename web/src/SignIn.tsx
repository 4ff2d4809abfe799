// The sign-in page: sign in, or create an account (Handle, Password, Display name).

import { useState } from 'react';
import type { FormEvent } from 'react';
import { api, storeToken } from './api';
import type { User } from './api';
import { errorText } from './ui';

export function SignIn({ onSignedIn }: { onSignedIn: (u: User) => void }) {
  const [handle, setHandle] = useState('');
  const [password, setPassword] = useState('');
  const [displayName, setDisplayName] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const create = (e.nativeEvent as SubmitEvent).submitter?.getAttribute('value') === 'create';
    setBusy(true);
    setError(null);
    try {
      const s = create
        ? await api.register(handle, displayName || handle, password)
        : await api.login(handle, password);
      storeToken(s.token);
      onSignedIn(s.user);
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <main className="sign-in">
      <h1>xcord</h1>
      <form onSubmit={submit}>
        <label>
          Handle
          <input value={handle} onChange={(e) => setHandle(e.target.value)} autoComplete="username" required />
        </label>
        <label>
          Password
          <input
            type="password"
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            autoComplete="current-password"
            required
          />
        </label>
        <label>
          Display name
          <input
            value={displayName}
            onChange={(e) => setDisplayName(e.target.value)}
            aria-describedby="display-name-hint"
          />
        </label>
        <small id="display-name-hint">Only when creating an account.</small>
        {error && <p role="alert">{error}</p>}
        <div className="buttons">
          <button type="submit" value="signin" disabled={busy}>
            Sign in
          </button>
          <button type="submit" value="create" disabled={busy}>
            Create account
          </button>
        </div>
      </form>
    </main>
  );
}

