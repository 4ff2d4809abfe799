// Which LiveKit signal path a browser participant used, seen from both ends:
//   - the client: the WebSocket that opened (page.html records them): `/rtc/v1` = "v1", `/rtc` = "v0";
//   - the server: `protocol="v1"` / `protocol="v0"` on its "participant joined" log line;
// and which path the server offers: livekit-client tries /rtc/v1 first and falls back to /rtc
// only when `GET /rtc/v1/validate` answers 404, so a server without v1 answers 404 there.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';

/** "v1" for a `/rtc/v1` URL, "v0" for `/rtc`, null for anything else. */
export function pathOfUrl(url) {
  const p = new URL(url).pathname.replace(/\/+$/, '');
  if (p.endsWith('/rtc/v1')) return 'v1';
  if (p.endsWith('/rtc')) return 'v0';
  return null;
}

/**
 * The signal path of the first signal WebSocket that opened, from page.html's `e2eSockets`
 * records `{url, opened}`; null when none opened.
 */
export function clientSignalPath(sockets) {
  const opened = sockets.find((s) => s.opened && pathOfUrl(s.url) !== null);
  return opened ? pathOfUrl(opened.url) : null;
}

/** "v1" when the server serves `/rtc/v1` (its validate endpoint is not a 404), else "v0". */
export async function offeredSignalPath(httpUrl) {
  const r = await fetch(`${httpUrl}/rtc/v1/validate`, { signal: AbortSignal.timeout(5000) });
  await r.body?.cancel();
  return r.status === 404 ? 'v0' : 'v1';
}

/** The server log of the run (run.sh exports E2E_SERVER_LOG; E2E_OUT/server.log otherwise). */
export function serverLogPath() {
  if (process.env.E2E_SERVER_LOG) return process.env.E2E_SERVER_LOG;
  if (process.env.E2E_OUT) return path.join(process.env.E2E_OUT, 'server.log');
  return null;
}

/**
 * For each "participant joined" line of `identity` in `logText`: the recorded protocol ("v1",
 * "v0") or null when the line has no `protocol=` field.
 */
export function serverJoinProtocols(logText, identity) {
  const ident = new RegExp(`\\bidentity="?${identity.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}"?(\\s|$)`);
  return logText
    .split('\n')
    .filter((l) => l.includes('participant joined') && ident.test(l))
    .map((l) => {
      const m = /\bprotocol="?(v\d+)"?/.exec(l);
      return m ? m[1] : null;
    });
}

/**
 * Asserts the path `identity` joined on: the client's opened WebSocket is on the path the server
 * offers, and the server's join line for `identity` agrees. `requireServerRecord` (default: the
 * server offers v1, as a server with v1 logs `protocol=` on each join) makes a join line without
 * `protocol=` fail; otherwise such a line only has to exist. Returns what it found.
 */
export async function assertSignalPath({ sockets, httpUrl, identity, logText, requireServerRecord }) {
  const offered = await offeredSignalPath(httpUrl);
  const client = clientSignalPath(sockets);
  const urls = sockets.map((s) => `${pathOfUrl(s.url) ?? s.url}:${s.opened ? 'opened' : 'failed'}`);
  assert.equal(client, offered, `${identity}: signal WebSocket on ${client}, server offers ${offered} (sockets ${urls.join(', ')})`);
  const recorded = serverJoinProtocols(logText, identity);
  assert.ok(recorded.length > 0, `${identity}: no "participant joined" line for it in the server log`);
  const last = recorded[recorded.length - 1];
  const mustRecord = requireServerRecord ?? offered === 'v1';
  if (mustRecord) assert.notEqual(last, null, `${identity}: the server's join line does not record protocol=`);
  if (last !== null) assert.equal(last, client, `${identity}: server logged protocol=${last}, client used ${client}`);
  return { offered, client, server: last, sockets: urls };
}

/** Reads the server log (see serverLogPath); throws naming the missing variable. */
export function readServerLog() {
  const p = serverLogPath();
  assert.ok(p, 'no server log: run through tests/e2e/run.sh (E2E_SERVER_LOG or E2E_OUT)');
  return readFileSync(p, 'utf8');
}
