// The signal-path helpers on recorded sockets and server log lines (no browser, no server needed
// except for offeredSignalPath, which a stub HTTP server answers).
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import { assertSignalPath, clientSignalPath, offeredSignalPath, pathOfUrl, serverJoinProtocols } from './signal-path.mjs';

const V1 = 'ws://10.99.0.1:7880/rtc/v1?access_token=x&join_request=y';
const V0 = 'ws://10.99.0.1:7880/rtc?access_token=x&auto_subscribe=1';
const LOG = [
  '2026-12-01T23:01:59.727253Z  INFO xcord_sfu::engine::join: participant joined room=r participant=PA_1 identity=ff-a',
  '2026-12-01T23:02:00.000000Z  INFO xcord_sfu::engine::join: participant joined room=r participant=PA_2 identity=ff-ab protocol="v1"',
  '2026-12-01T23:02:01.264667Z  INFO xcord_sfu::engine::join: participant joined room=r participant=PA_3 identity=cr-b protocol="v0"',
  '2026-12-01T23:02:02.000000Z  INFO xcord_sfu::engine::join: participant left room=r participant=PA_3 identity=cr-b protocol="v1"',
].join('\n');

/** A stub server whose `/rtc/v1/validate` answers `status`. */
async function stub(status) {
  const srv = http.createServer((_req, res) => res.writeHead(status).end('x'));
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  return { srv, url: `http://127.0.0.1:${srv.address().port}` };
}

test('URLs map to v1, v0 or nothing', () => {
  assert.equal(pathOfUrl(V1), 'v1');
  assert.equal(pathOfUrl(V0), 'v0');
  assert.equal(pathOfUrl('ws://h/rtc/'), 'v0');
  assert.equal(pathOfUrl('ws://h/other'), null);
});

test('the client path is that of the first signal socket that opened', () => {
  assert.equal(clientSignalPath([{ url: V1, opened: false }, { url: V0, opened: true }]), 'v0');
  assert.equal(clientSignalPath([{ url: V1, opened: true }]), 'v1');
  assert.equal(clientSignalPath([{ url: V1, opened: false }]), null);
});

test('join lines are matched by exact identity and give the recorded protocol', () => {
  assert.deepEqual(serverJoinProtocols(LOG, 'ff-a'), [null]);
  assert.deepEqual(serverJoinProtocols(LOG, 'ff-ab'), ['v1']);
  assert.deepEqual(serverJoinProtocols(LOG, 'cr-b'), ['v0']);
  assert.deepEqual(serverJoinProtocols(LOG, 'nobody'), []);
});

test('a 404 on /rtc/v1/validate means the server offers v0, anything else v1', async () => {
  for (const [status, want] of [[404, 'v0'], [401, 'v1'], [200, 'v1']]) {
    const { srv, url } = await stub(status);
    try {
      assert.equal(await offeredSignalPath(url), want, `status ${status}`);
    } finally {
      srv.close();
    }
  }
});

test('assertSignalPath: agreement passes, each disagreement fails', async () => {
  const v0 = await stub(404);
  const v1 = await stub(401);
  try {
    const fellBack = [{ url: V1, opened: false }, { url: V0, opened: true }];
    const onV1 = [{ url: V1, opened: true }];
    // no v1 on the server: v0, with or without a protocol field on the join line
    await assertSignalPath({ sockets: fellBack, httpUrl: v0.url, identity: 'ff-a', logText: LOG });
    await assertSignalPath({ sockets: fellBack, httpUrl: v0.url, identity: 'cr-b', logText: LOG });
    // v1 offered but the client fell back
    await assert.rejects(assertSignalPath({ sockets: fellBack, httpUrl: v1.url, identity: 'ff-ab', logText: LOG }), /server offers v1/);
    // v1 offered and used, the server records v1
    await assertSignalPath({ sockets: onV1, httpUrl: v1.url, identity: 'ff-ab', logText: LOG });
    // v1 offered and used, but the join line has no protocol field
    await assert.rejects(assertSignalPath({ sockets: onV1, httpUrl: v1.url, identity: 'ff-a', logText: LOG }), /does not record/);
    // the server recorded another path than the client used
    await assert.rejects(assertSignalPath({ sockets: onV1, httpUrl: v1.url, identity: 'cr-b', logText: LOG }), /logged protocol=v0/);
    // no join line at all
    await assert.rejects(assertSignalPath({ sockets: fellBack, httpUrl: v0.url, identity: 'nobody', logText: LOG }), /no "participant joined"/);
  } finally {
    v0.srv.close();
    v1.srv.close();
  }
});
