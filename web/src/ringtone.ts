// The ringtone, generated with WebAudio (no asset files): a two-tone ring while a call rings
// and the user is free, a soft short tone for call waiting. `follow` derives what to play from
// the media session snapshot only, so when a call is answered or declined anywhere the snapshot
// changes everywhere and every window stops ringing.

import { ringMode } from './calls';
import { type Store, serverNow } from './store';

export type RingMode = 'none' | 'ring' | 'waiting';

export class Ringtone {
  mode: RingMode = 'none';
  private ctx: AudioContext | null = null;
  private timer: ReturnType<typeof setInterval> | null = null;

  /** Plays `mode` (restarting only when it changes). */
  play(mode: RingMode): void {
    if (mode === this.mode) return;
    this.stop();
    this.mode = mode;
    if (mode === 'none') return;
    try {
      this.ctx ??= new AudioContext();
      void this.ctx.resume().catch(() => undefined);
    } catch {
      return; // no audio output: the dialog still shows the call
    }
    const burst = () => (mode === 'ring' ? this.ring() : this.beep());
    burst();
    this.timer = setInterval(burst, mode === 'ring' ? 3000 : 4000);
  }

  private stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private tone(freqs: number[], start: number, length: number, gain: number): void {
    const ctx = this.ctx;
    if (!ctx) return;
    const g = ctx.createGain();
    g.gain.setValueAtTime(0, start);
    g.gain.linearRampToValueAtTime(gain, start + 0.02);
    g.gain.setValueAtTime(gain, start + length - 0.05);
    g.gain.linearRampToValueAtTime(0, start + length);
    g.connect(ctx.destination);
    for (const f of freqs) {
      const osc = ctx.createOscillator();
      osc.frequency.value = f;
      osc.connect(g);
      osc.start(start);
      osc.stop(start + length);
    }
  }

  private ring(): void {
    const t = this.ctx?.currentTime ?? 0;
    this.tone([440, 480], t, 0.9, 0.12);
    this.tone([440, 480], t + 1.1, 0.9, 0.12);
  }

  private beep(): void {
    const t = this.ctx?.currentTime ?? 0;
    this.tone([440], t, 0.25, 0.05);
    this.tone([440], t + 0.4, 0.25, 0.05);
  }
}

/** Keeps `ringtone` in step with the store's media session (re-checked every second for expiry). */
export function follow(store: Store, ringtone: Ringtone): () => void {
  const update = () => {
    const s = store.snapshot();
    ringtone.play(ringMode(s.mediaSession, serverNow(s)));
  };
  const unsubscribe = store.subscribe(update);
  const timer = setInterval(update, 1000);
  update();
  return () => {
    unsubscribe();
    clearInterval(timer);
    ringtone.play('none');
  };
}
