// Small shared view pieces: links through the client-side router, the avatar gradient, errors,
// and the hook that reads the gateway store.

import { useSyncExternalStore } from 'react';
import type { ReactNode } from 'react';
import { ApiError } from './api';
import type { Client } from './client';
import { navigate } from './router';
import type { GatewayState } from './store';

export function Link({ to, children, label }: { to: string; children: ReactNode; label?: string }) {
  return (
    <a
      href={to}
      aria-label={label}
      onClick={(e) => {
        if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey) return;
        e.preventDefault();
        navigate(to);
      }}
    >
      {children}
    </a>
  );
}

export function gradientStyle(g: string[]) {
  const [a, b] = [g[0] ?? '#5865f2', g[1] ?? g[0] ?? '#eb459e'];
  return { background: `linear-gradient(135deg, ${a}, ${b})` };
}

export function Avatar({ gradient, small }: { gradient: string[]; small?: boolean }) {
  return <span className={small ? 'avatar small' : 'avatar'} style={gradientStyle(gradient)} aria-hidden="true" />;
}

export function errorText(e: unknown): string {
  return e instanceof ApiError || e instanceof Error ? e.message : String(e);
}

export function useGateway(client: Client): GatewayState {
  return useSyncExternalStore(client.store.subscribe, client.store.snapshot);
}

export function useSession(client: Client) {
  return useSyncExternalStore(client.session.subscribe, client.session.snapshot);
}
