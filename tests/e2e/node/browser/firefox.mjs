// Headless Debian Firefox ESR for the browser suite, driven over WebDriver BiDi by puppeteer-core.
//
// Why the camera/microphone permission prefs matter (the cause of "no ICE traffic at all" in a
// test namespace): unless a page has a camera or microphone permission (a persistent grant, or an
// active capture of a *real* device; fake devices do not count), Firefox gathers ICE candidates
// only on the "default" local address, which it finds by connecting a UDP socket towards a
// public address. In a test namespace there is no default route, so that connect fails
// (PR_NETWORK_UNREACHABLE_ERROR, -5980: "failed to find default addresses"), gathering fails
// (R_FAILED, 10) and the peer connection never sends a single STUN packet. Granting camera and
// microphone by default (`permissions.default.camera` / `.microphone` = 1) makes Firefox gather
// on every interface (10.99.0.1 and 10.99.0.2 on the veth pair) and also stops it from hiding
// host candidates behind mDNS names. Nothing else (loopback ICE, socket process off, sandbox)
// is needed. MOZ_LOG=signaling:5,mtransport:5,nicer:5 shows the chain (see E2E_FIREFOX_MOZ_LOG).
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import puppeteer from 'puppeteer-core';

export const FIREFOX = process.env.FIREFOX ?? '/usr/bin/firefox-esr';

export const FIREFOX_PREFS = {
  // fake camera (a moving test pattern) and microphone (a 1 kHz tone), no permission prompt
  'media.navigator.streams.fake': true,
  'media.navigator.permission.disabled': true,
  // camera and microphone granted to every origin: ICE uses all interfaces (see above)
  'permissions.default.camera': 1,
  'permissions.default.microphone': 1,
  // remote audio plays and WebAudio runs without a click
  'media.autoplay.default': 0,
  'media.autoplay.blocking_policy': 0,
  'media.autoplay.block-webaudio': false,
  // no background connections: no captive-portal or connectivity probes, no DNS over HTTPS
  'network.captive-portal-service.enabled': false,
  'network.connectivity-service.enabled': false,
  'network.trr.mode': 5,
  'browser.safebrowsing.provider.mozilla.updateURL': '',
  'extensions.systemAddon.update.enabled': false,
  'toolkit.telemetry.enabled': false,
  'media.gmp-gmpopenh264.enabled': false,
};

/**
 * Launches headless Firefox with FIREFOX_PREFS (plus `prefs`). With E2E_FIREFOX_MOZ_LOG set
 * (e.g. `signaling:5,mtransport:5,nicer:5,jsep:5`) every Firefox process logs to
 * `$E2E_OUT/firefox-moz.log*`.
 */
export async function launchFirefox(prefs = {}) {
  const env = { ...process.env };
  if (process.env.E2E_FIREFOX_MOZ_LOG) {
    const dir = process.env.E2E_OUT ?? '/tmp';
    mkdirSync(dir, { recursive: true });
    env.MOZ_LOG = `timestamp,sync,${process.env.E2E_FIREFOX_MOZ_LOG}`;
    env.MOZ_LOG_FILE = path.join(dir, 'firefox-moz.log');
  }
  return puppeteer.launch({
    browser: 'firefox',
    executablePath: FIREFOX,
    headless: true,
    extraPrefsFirefox: { ...FIREFOX_PREFS, ...prefs },
    env,
    timeout: 60000,
  });
}
