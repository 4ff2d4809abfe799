// Shared by red.test.mjs and measure-red.mjs: Chromium pages (page.html loads livekit-client)
// that publish only the fake microphone with or without Opus RED, or only subscribe (optionally
// as a client that does not take RED: `audio/red` removed from its SDP, so the SFU must reduce
// RED to plain Opus for it); per-track `inbound-rtp` audio statistics; random loss on one
// direction of chosen pages' media (nftables in the test namespace, by UDP port).
import { execFileSync } from 'node:child_process';
import { makeToken, sleep, withTimeout } from '../lk.mjs';
import { openPage as openTestPage } from './test-page.mjs';

/** Removes `audio/red` from every audio m-section of an SDP. */
function stripRedScript() {
  const strip = (sdp) => {
    const sections = sdp.split(/\r\n(?=m=)/);
    return sections
      .map((sec) => {
        if (!sec.startsWith('m=audio')) return sec;
        const lines = sec.split('\r\n');
        const red = lines
          .map((l) => /^a=rtpmap:(\d+) red\//i.exec(l))
          .filter(Boolean)
          .map((m) => m[1]);
        if (red.length === 0) return sec;
        return lines
          .filter((l) => !red.some((pt) => new RegExp(`^a=(rtpmap|fmtp|rtcp-fb):${pt} `).test(l)))
          .map((l) => {
            if (!l.startsWith('m=audio')) return l;
            const parts = l.split(' ');
            return [...parts.slice(0, 3), ...parts.slice(3).filter((pt) => !red.includes(pt))].join(' ');
          })
          .join('\r\n');
      })
      .join('\r\n');
  };
  for (const name of ['createOffer', 'createAnswer']) {
    const orig = RTCPeerConnection.prototype[name];
    RTCPeerConnection.prototype[name] = async function (...args) {
      const d = await orig.apply(this, args);
      return { type: d.type, sdp: strip(d.sdp) };
    };
  }
  window.e2eNoRed = true;
}

/**
 * Opens page.html in its own browser context; `noRed`: the page's connections never negotiate
 * RED. Returns the page; its console goes to `logs[who]`.
 */
export function openPage(browser, baseUrl, who, logs, { noRed = false } = {}) {
  return openTestPage(browser, baseUrl, who, logs, { initScript: noRed ? stripRedScript : null });
}

/**
 * Connects the page to `url` as `who` in `room` (no adaptive stream, no dynacast); plays every
 * audio track it subscribes to. `mic`: null (publish nothing) or `{ red }` to publish the fake
 * microphone with that RED option (DTX off, so packets flow at a steady 50/s).
 */
export async function join(page, url, room, who, mic) {
  const token = await makeToken(who, room);
  await withTimeout(
    page.evaluate(
      async ({ url, token, mic }) => {
        const { Room, RoomEvent, Track } = LivekitClient;
        const room = new Room({ adaptiveStream: false, dynacast: false });
        window.redRoom = room;
        window.redTracks = {};
        room.on(RoomEvent.TrackSubscribed, (track, pub, participant) => {
          if (track.kind !== Track.Kind.Audio) return;
          const el = track.attach();
          document.body.appendChild(el);
          window.redTracks[participant.identity] = track;
        });
        await room.connect(url, token);
        if (mic) {
          await room.localParticipant.setMicrophoneEnabled(true, undefined, { red: mic.red, dtx: false });
        }
      },
      { url, token, mic },
    ),
    30000,
    `${who} joins`,
  );
}

/**
 * Audio `inbound-rtp` of every track the page receives, by publisher identity: packetsReceived,
 * packetsLost, concealedSamples, totalSamplesReceived, totalAudioEnergy, bytesReceived, mime.
 */
export function inboundAudio(page) {
  return withTimeout(
    page.evaluate(async () => {
      const out = {};
      for (const [identity, track] of Object.entries(window.redTracks || {})) {
        const stats = await track.getRTCStatsReport();
        if (!stats) continue;
        stats.forEach((s) => {
          if (s.type !== 'inbound-rtp') return;
          const codec = s.codecId ? stats.get(s.codecId) : null;
          out[identity] = {
            packetsReceived: s.packetsReceived ?? 0,
            packetsLost: s.packetsLost ?? 0,
            concealedSamples: s.concealedSamples ?? 0,
            totalSamplesReceived: s.totalSamplesReceived ?? 0,
            totalAudioEnergy: s.totalAudioEnergy ?? 0,
            bytesReceived: s.bytesReceived ?? 0,
            mime: codec ? codec.mimeType : null,
          };
        });
      }
      return out;
    }),
    10000,
    'inbound audio stats',
  );
}

/** Local UDP ports of every ICE candidate of the page's open peer connections. */
export async function mediaPorts(page) {
  return withTimeout(
    page.evaluate(async () => {
      const ports = new Set();
      for (const pc of window.e2ePcs) {
        if (pc.connectionState === 'closed') continue;
        (await pc.getStats()).forEach((s) => {
          if (s.type === 'local-candidate' && s.protocol === 'udp' && s.port) ports.add(s.port);
        });
      }
      return [...ports];
    }),
    10000,
    'local candidate ports',
  );
}

/** Waits until `check()` resolves truthy; returns its value. */
export async function until(check, ms, what) {
  const deadline = Date.now() + ms;
  let last;
  while (Date.now() < deadline) {
    last = await check();
    if (last) return last;
    await sleep(250);
  }
  throw new Error(`${what} not met within ${ms} ms`);
}

/** `after - before` of two inboundAudio entries: loss and concealment over that window. */
export function residual(before, after) {
  const d = (k) => after[k] - before[k];
  const received = d('packetsReceived');
  const lost = d('packetsLost');
  const samples = d('totalSamplesReceived');
  return {
    received,
    lost,
    lostFraction: received + lost > 0 ? lost / (received + lost) : 0,
    bytesPerPacket: received > 0 ? d('bytesReceived') / received : 0,
    concealedFraction: samples > 0 ? d('concealedSamples') / samples : 0,
  };
}

const TABLE = 'xcord_e2e_red';

/**
 * Drops `percent` % of the datagrams on one direction between the SFU's media port and the
 * given client ports: 'down' (SFU → client) or 'up' (client → SFU). Replaces any earlier rule.
 */
export function setLoss(direction, percent, sfuPort, clientPorts) {
  clearLoss();
  if (percent <= 0 || clientPorts.length === 0) return;
  const nft = (...args) => execFileSync('nft', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  nft('add', 'table', 'inet', TABLE);
  nft('add', 'chain', 'inet', TABLE, 'out', '{ type filter hook output priority 0; }');
  const ports = `{ ${clientPorts.join(', ')} }`;
  const [from, to] = direction === 'down' ? [String(sfuPort), ports] : [ports, String(sfuPort)];
  nft('add', 'rule', 'inet', TABLE, 'out', 'udp', 'sport', from, 'udp', 'dport', to,
    'numgen', 'random', 'mod', '100', '<', String(percent), 'drop');
}

export function clearLoss() {
  try {
    execFileSync('nft', ['delete', 'table', 'inet', TABLE], { stdio: 'ignore' });
  } catch {
    // no table
  }
}
