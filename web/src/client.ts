// Everything a page needs, created once outside React (main.tsx) and handed to the views:
// the gateway state, the call model, the media controller and the ringtone.

import type { Gateway } from './gateway';
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
}
