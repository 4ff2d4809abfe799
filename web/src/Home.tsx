// Home: create a community, or join one by an invite code or link.

import { useState } from 'react';
import type { FormEvent } from 'react';
import { api } from './api';
import type { Client } from './client';
import { navigate } from './router';
import { errorText, useGateway } from './ui';

export function Home({ client, initialInvite = '' }: { client: Client; initialInvite?: string }) {
  const g = useGateway(client);
  const [name, setName] = useState('');
  const [invite, setInvite] = useState(initialInvite);
  const [error, setError] = useState<string | null>(null);

  const create = async (e: FormEvent) => {
    e.preventDefault();
    try {
      const c = await api.createCommunity(name);
      client.store.event('COMMUNITY_CREATE', c as unknown as Record<string, unknown>);
      navigate(`/c/${c.id}`);
    } catch (err) {
      setError(errorText(err));
    }
  };
  const join = async (e: FormEvent) => {
    e.preventDefault();
    try {
      // a pasted link works as well as the bare code
      const code = invite.trim().split('/').filter(Boolean).pop() ?? '';
      const c = await api.joinByInvite(code);
      client.store.event('COMMUNITY_CREATE', c as unknown as Record<string, unknown>);
      navigate(`/c/${c.id}`);
    } catch (err) {
      setError(errorText(err));
    }
  };

  return (
    <>
      <h1>Communities</h1>
      {error && <p role="alert">{error}</p>}
      {g.ready && g.communities.length === 0 && <p>No community yet: create one or join one by invite.</p>}
      <form onSubmit={create} aria-label="Create a community">
        <label>
          Community name
          <input value={name} onChange={(e) => setName(e.target.value)} required />
        </label>
        <button type="submit">Create community</button>
      </form>
      <form onSubmit={join} aria-label="Join by invite">
        <label>
          Invite code or link
          <input value={invite} onChange={(e) => setInvite(e.target.value)} required />
        </label>
        <button type="submit">Join community</button>
      </form>
    </>
  );
}

