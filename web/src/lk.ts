// Loads livekit-client (a separate chunk): on the first call, or ahead of it on a page that can
// start one, so joining does not wait for the download.

let loading: Promise<typeof import('livekit-client')> | null = null;

export function loadLivekit(): Promise<typeof import('livekit-client')> {
  loading ??= import('livekit-client');
  return loading;
}

/** Starts loading without waiting (errors surface on the real load). */
export function prefetchLivekit(): void {
  void loadLivekit().catch(() => {
    loading = null;
  });
}
