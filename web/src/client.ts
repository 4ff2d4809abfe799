// Everything a page needs, created once outside React (main.tsx) and handed to the views:
// the gateway state, the call model, the media controller, the ringtone and the live model.

import type { Gateway } from './gateway';
import type { LiveModel } from './live/model';
import type { MediaController } from './media';
import type { Ringtone } from './ringtone';
import type { CallSession } from './session';
import type { Store } from './store';

export interface Client {
  store: Store;
  gateway: Gateway;
  session: CallSession;
  media: MediaController;
  ringtone: Ringtone;
  /** The live page's session and room (its own `CallSession`). */
  live: LiveModel;
}
