// The Python SDK participant (tests/e2e/python/interop_peer.py) as a child process: it joins a
// room, publishes a 440 Hz tone and reports, one JSON line each, whether it hears the identities
// it listens to. Stopped by closing its stdin (SIGKILL by PID after 10 s).
import { spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { sleep } from '../lk.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../../../..');
const PYTHON = process.env.E2E_PYTHON ?? path.join(root, '.venv/bin/python');

export class PythonPeer {
  constructor(room, identity, listen) {
    this.events = [];
    this.stderr = [];
    this.proc = spawn(
      PYTHON,
      ['interop_peer.py', '--room', room, '--identity', identity, ...listen.flatMap((w) => ['--listen', w])],
      { cwd: path.join(root, 'tests/e2e/python'), stdio: ['pipe', 'pipe', 'pipe'], env: process.env },
    );
    createInterface({ input: this.proc.stdout }).on('line', (line) => {
      try {
        this.events.push(JSON.parse(line));
      } catch {
        this.stderr.push(`stdout: ${line}`);
      }
    });
    createInterface({ input: this.proc.stderr }).on('line', (line) => this.stderr.push(line));
    this.exited = new Promise((r) => this.proc.on('exit', (code, sig) => r(code ?? sig)));
  }

  /** Resolves with the first event matching `pred`; rejects on an error event, exit or timeout. */
  async waitFor(pred, ms, what) {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      const e = this.events.find(pred);
      if (e) return e;
      const err = this.events.find((x) => x.event === 'error');
      if (err) throw new Error(`python peer failed: ${err.message}`);
      if (this.proc.exitCode !== null) throw new Error(`python peer exited (${this.proc.exitCode}) before: ${what}`);
      await sleep(200);
    }
    throw new Error(`timed out after ${ms} ms waiting for python peer: ${what}; events ${JSON.stringify(this.events)}`);
  }

  async stop() {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    this.proc.stdin.end();
    const code = await Promise.race([this.exited, sleep(10000).then(() => 'timeout')]);
    if (code === 'timeout') process.kill(this.proc.pid, 'SIGKILL');
  }
}
