// Restrictive networks with livekit-client in headless Chromium, each on its own server:
// - UDP blocked (nftables drops every datagram to or from the server's media port): both pages
//   connect over ICE-TCP (the server's passive TCP candidate), publish camera and microphone,
//   and see and hear each other; every selected candidate pair is TCP to the ICE-TCP port, and
//   inbound RTP bytes keep growing.
// - Only TCP 443 towards the server: the TURN server's UDP port and the ICE-TCP port are
//   dropped, and the pages may use relayed candidates only (iceTransportPolicy "relay": the
//   TURN server's relay and the pages share the namespace, so nftables cannot drop the pages'
//   own UDP to the media port without also dropping the relay's). Both pages connect through
//   TURN over TLS on 443 with the credentials from the JoinResponse; every selected pair is
//   relayed over TLS, and media flows both ways.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, test } from 'node:test';
import { makeToken, sleep, uniqueRoom, withTimeout } from '../lk.mjs';
import { DEFAULT_MEDIA_THREADS, HOST, XcordServer } from '../xcord-server.mjs';
import { launchChromium, servePage } from './test-page.mjs';

const WEB = ['web-a', 'web-b'];

let pageServer;
let baseUrl;
let browser;

before(async () => {
  pageServer = await servePage();
  baseUrl = pageServer.baseUrl;
  // The TURN server's certificate is self-signed (--dev).
  browser = await launchChromium(['--ignore-certificate-errors']);
});

after(async () => {
  if (browser) await browser.close().catch(() => {});
  if (pageServer) pageServer.close();
});

/** Loads an nftables table (dropping what `rules` say on output) and returns its remover. */
function firewall(name, rules) {
  const table = `inet ${name}`;
  const script = `table ${table} {\n chain out {\n  type filter hook output priority 0;\n${rules.map((r) => `  ${r}\n`).join('')} }\n}\n`;
  execFileSync('nft', ['-f', '-'], { input: script });
  return () => {
    try {
      execFileSync('nft', ['delete', 'table', 'inet', name]);
    } catch {
      // already gone
    }
  };
}

const videoOk = (t) => t && t.videoWidth > 0 && (t.totalVideoFrames > 0 || t.rvfc > 0);
const audioOk = (t) => t && (t.totalAudioEnergy > 0 || t.analyserPeak > 0.01);

async function pollStatus(page, identity, check, ms, what) {
  const deadline = Date.now() + ms;
  let last;
  while (Date.now() < deadline) {
    last = await withTimeout(page.evaluate((id) => window.e2eStatus(id), identity), 10000, 'e2eStatus');
    if (check(last)) return last;
    await sleep(250);
  }
  throw new Error(`${what} not met within ${ms} ms; last status ${JSON.stringify(last)}`);
}

const inboundBytes = (st) => Object.values(st.tracks).reduce((n, t) => n + (t.bytesReceived ?? 0), 0);

/**
 * Two pages join `srv` with `connectOptions`, see and hear each other; returns each page's
 * selected candidate pairs after media has flowed.
 */
async function pagesMeet(srv, roomName, logs, connectOptions) {
  const pages = {};
  for (const who of WEB) {
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    logs[who] = [];
    page.on('console', (m) => logs[who].push(`[${m.type()}] ${m.text()}`));
    page.on('pageerror', (e) => logs[who].push(`[pageerror] ${e.message}`));
    await page.goto(`${baseUrl}/page.html`, { timeout: 15000 });
    pages[who] = page;
  }
  try {
    await Promise.all(
      WEB.map(async (who) => {
        const token = await makeToken(who, roomName);
        const id = await withTimeout(
          pages[who].evaluate(([u, t, o]) => window.e2eConnect(u, t, o), [srv.url, token, connectOptions]),
          60000,
          `${who}: connect + enable camera and microphone`,
        );
        assert.equal(id, who);
      }),
    );
    const transports = {};
    for (const [who, other] of [WEB, [...WEB].reverse()]) {
      const first = await pollStatus(
        pages[who],
        other,
        (s) => videoOk(s.tracks[`${other}/camera`]) && audioOk(s.tracks[`${other}/microphone`]),
        40000,
        `${who}: ${other}'s camera decoded and microphone audible`,
      );
      await sleep(3000);
      const second = await pages[who].evaluate((id) => window.e2eStatus(id), other);
      const grew = inboundBytes(second) - inboundBytes(first);
      console.log(`${who} <- ${other}: inbound RTP +${grew} bytes in 3 s (${Math.round((grew * 8) / 3000)} kbit/s)`);
      // Opus alone is about 4 kB/s with headers: more than that means video flows too.
      assert.ok(grew > 15000, `${who}: inbound RTP bytes from ${other} grew by only ${grew} in 3 s`);
      transports[who] = await pages[who].evaluate(() => window.e2eTransports());
      console.log(`${who} selected pairs: ${JSON.stringify(transports[who])}`);
    }
    return transports;
  } finally {
    for (const who of WEB) {
      const log = await pages[who].evaluate(() => window.e2e.log).catch(() => []);
      logs[who].push(...log.map((l) => `[e2e] ${l}`));
      await pages[who].context().close();
    }
  }
}

function dumpOnFailure(logs, srv) {
  for (const who of WEB) {
    const lines = (logs[who] ?? []).map((l) => (l.length > 400 ? `${l.slice(0, 400)}...` : l)).slice(-60);
    console.log(`---- ${who} console (last ${lines.length}) ----\n${lines.join('\n')}`);
  }
  console.log(srv.logTail(80));
}

test('livekit-client with UDP blocked connects over ICE-TCP, publishes and subscribes', async () => {
  const srv = await new XcordServer('ice-tcp', []).start();
  // Every media shard's ports: UDP from HTTP + 2, ICE-TCP from HTTP + 1.
  const udpPorts = `${srv.port + 2}-${srv.port + 1 + DEFAULT_MEDIA_THREADS}`;
  const tcpPorts = Array.from({ length: DEFAULT_MEDIA_THREADS }, (_, i) => srv.port + 1 + i);
  const open = firewall(`xcord_icetcp_${srv.port}`, [`udp dport ${udpPorts} drop`, `udp sport ${udpPorts} drop`]);
  const logs = {};
  try {
    const transports = await pagesMeet(srv, uniqueRoom('ice-tcp'), logs, {});
    for (const who of WEB) {
      const connected = transports[who].filter((t) => t.state === 'connected');
      assert.ok(connected.length >= 1, `${who}: no connected peer connection: ${JSON.stringify(transports[who])}`);
      for (const t of connected) {
        assert.equal(t.local.protocol, 'tcp', JSON.stringify(t));
        assert.equal(t.remote.protocol, 'tcp', JSON.stringify(t));
        assert.equal(t.remote.address, HOST, JSON.stringify(t));
        assert.ok(tcpPorts.includes(t.remote.port), JSON.stringify(t));
        assert.ok(t.bytesReceived > 0 && t.bytesSent > 0, JSON.stringify(t));
      }
    }
  } catch (e) {
    dumpOnFailure(logs, srv);
    throw e;
  } finally {
    open();
    await srv.stop();
  }
});

test('livekit-client reaching only TCP 443 connects through TURN over TLS', async () => {
  // One media shard: TURN over UDP takes HTTP + 3, where a second shard's UDP port would be.
  const srv = new XcordServer('turn-tls', ['--no-turn=false', '--turn-tls-port', '443', '--media-threads', '1']);
  const turnUdpPort = srv.port + 3;
  srv.extraArgs.push('--turn-udp-port', String(turnUdpPort));
  await srv.start();
  const tcpPort = srv.port + 1;
  const open = firewall(`xcord_turntls_${srv.port}`, [
    `tcp dport ${tcpPort} drop`,
    `udp dport ${turnUdpPort} drop`,
  ]);
  const logs = {};
  try {
    const transports = await pagesMeet(srv, uniqueRoom('turn-tls'), logs, {
      rtcConfig: { iceTransportPolicy: 'relay' },
    });
    for (const who of WEB) {
      const connected = transports[who].filter((t) => t.state === 'connected');
      assert.ok(connected.length >= 1, `${who}: no connected peer connection: ${JSON.stringify(transports[who])}`);
      for (const t of connected) {
        assert.equal(t.local.type, 'relay', JSON.stringify(t));
        assert.equal(t.local.relayProtocol, 'tls', JSON.stringify(t));
        assert.match(t.local.url ?? '', /^turns:.*:443\?transport=tcp$/, JSON.stringify(t));
        assert.ok(t.bytesReceived > 0 && t.bytesSent > 0, JSON.stringify(t));
      }
    }
  } catch (e) {
    dumpOnFailure(logs, srv);
    throw e;
  } finally {
    open();
    await srv.stop();
  }
});
