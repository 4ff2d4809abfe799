// Extra xcord server instances for tests that need their own flags (e.g. --webhook-url), started
// next to the runner's default server inside the same namespace. HTTP ports from 7950 up in steps
// of 4 (ICE-TCP ports = HTTP port + 1 …, UDP media ports = HTTP port + 2 …, one per media shard:
// `--media-threads 2` unless the test passes its own count; TURN off unless asked for), so they collide neither with the default server
// (7880/7882) nor with the Python suite's extra servers (7900 up). Logs go to
// $E2E_OUT/server-<name>-<port>.log; the server is stopped by its PID.
import { spawn } from 'node:child_process';
import { mkdtempSync, openSync, closeSync, readFileSync, rmSync, writeSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sleep } from './lk.mjs';

export const HOST = process.env.XCORD_EXTRA_HOST ?? '10.99.0.1';
const here = dirname(fileURLToPath(import.meta.url));
const XCORD_BIN = process.env.XCORD_BIN ?? resolve(here, '../../../target/debug/xcord');
const OUT_DIR = process.env.E2E_OUT ?? tmpdir();
let nextPort = Number(process.env.XCORD_EXTRA_NODE_PORT_BASE ?? 7950);
/** Media shards of a server whose test does not choose: UDP ports HTTP + 2 and + 3. */
export const DEFAULT_MEDIA_THREADS = 2;

export class XcordServer {
  /**
   * `role`: 'media' (the SFU only) or 'serve' (control plane, SFU and web client). `bindHost`:
   * where HTTP listens (media stays on HOST): 127.0.0.1 gives pages a secure context, as
   * `make run` does. `port`: a fixed HTTP port, for a test file that may run beside another
   * file's server in the same namespace (node --test runs files in parallel on larger machines).
   */
  constructor(name, extraArgs = [], { role = 'media', bindHost = HOST, port = null } = {}) {
    this.name = name;
    this.extraArgs = extraArgs;
    this.role = role;
    if (port === null) {
      this.port = nextPort;
      nextPort += 4;
    } else {
      this.port = port;
    }
    this.bindHost = bindHost;
    this.url = `ws://${bindHost}:${this.port}`;
    this.httpUrl = `http://${bindHost}:${this.port}`;
    this.logPath = join(OUT_DIR, `server-${name}-${this.port}.log`);
    this.proc = null;
    this.exited = null;
  }

  /** Starts the server and resolves when GET / answers 200 (rejects with the log tail if not). */
  async start(readyTimeoutMs = 30000) {
    mkdirSync(OUT_DIR, { recursive: true });
    this.dataDir = mkdtempSync(join(tmpdir(), `xcord-e2e-${this.name}.`));
    const args = [
      this.role, '--dev',
      '--bind', `${this.bindHost}:${this.port}`,
      '--node-ip', HOST,
      '--udp-port', String(this.port + 2),
      // ICE-TCP on HTTP + 1; TURN (fixed ports) only where a test asks for it.
      ...(this.extraArgs.includes('--tcp-port') ? [] : ['--tcp-port', String(this.port + 1)]),
      ...(this.extraArgs.some((a) => a.startsWith('--no-turn')) ? [] : ['--no-turn']),
      '--data-dir', this.dataDir,
      ...(this.extraArgs.some((a) => a.startsWith('--media-threads')) ? [] : ['--media-threads', String(DEFAULT_MEDIA_THREADS)]),
      ...this.extraArgs,
    ];
    const fd = openSync(this.logPath, 'w');
    writeSync(fd, `${XCORD_BIN} ${args.join(' ')}\n`);
    this.proc = spawn(XCORD_BIN, args, {
      stdio: ['ignore', fd, fd],
      env: { ...process.env, NO_COLOR: '1', RUST_LOG: process.env.RUST_LOG ?? 'info' },
    });
    closeSync(fd);
    this.exited = new Promise((res) => this.proc.once('exit', (code, signal) => res({ code, signal })));
    const deadline = Date.now() + readyTimeoutMs;
    let last = null;
    while (Date.now() < deadline) {
      if (this.proc.exitCode !== null || this.proc.signalCode !== null) {
        throw new Error(`extra server ${this.name} exited (${this.proc.exitCode ?? this.proc.signalCode}) before it was ready\n${this.logTail()}`);
      }
      try {
        const r = await fetch(`${this.httpUrl}/`, { signal: AbortSignal.timeout(2000) });
        last = r.status;
        if (r.status === 200) return this;
      } catch (e) {
        last = e.message;
      }
      await sleep(200);
    }
    throw new Error(`extra server ${this.name}: GET / not 200 within ${readyTimeoutMs} ms (last: ${last})\n${this.logTail()}`);
  }

  alive() {
    return this.proc !== null && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** SIGTERM by PID, SIGKILL after 10 s; removes the data directory. */
  async stop() {
    if (this.proc && this.alive()) {
      process.kill(this.proc.pid, 'SIGTERM');
      const done = await Promise.race([this.exited, sleep(10000).then(() => null)]);
      if (done === null && this.alive()) {
        process.kill(this.proc.pid, 'SIGKILL');
        await this.exited;
      }
    }
    if (this.dataDir) rmSync(this.dataDir, { recursive: true, force: true });
    this.dataDir = null;
  }

  logTail(lines = 60) {
    let text = '';
    try {
      text = readFileSync(this.logPath, 'utf8');
    } catch {
      // no log
    }
    const tail = text.split('\n').slice(-lines).join('\n');
    return `---- last lines of ${this.logPath} ----\n${tail}\n---- end of server log ----`;
  }
}
