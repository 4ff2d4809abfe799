// Downlink caps for browser tests whose pages and server share one test namespace (so their
// traffic crosses `lo`): an HTB tree on `lo` where everything is unshaped except the UDP
// datagrams nftables marks for the capped class (those addressed to chosen ICE ports).
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

/// HTB class the capped datagrams go to (nftables sets their priority to it).
const CAPPED_CLASS = '1:30';

function run(cmd, args) {
  execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
}

export class LoopbackShaper {
  /** `limitKbit`: the cap; the queue holds about half a second at it, as a home router would. */
  constructor(limitKbit) {
    this.limitKbit = limitKbit;
    this.table = `cap${randomBytes(3).toString('hex')}`;
    this.installed = false;
  }

  install() {
    run('tc', ['qdisc', 'add', 'dev', 'lo', 'root', 'handle', '1:', 'htb', 'default', '10', 'r2q', '1000']);
    this.installed = true;
    run('tc', ['class', 'add', 'dev', 'lo', 'parent', '1:', 'classid', '1:10', 'htb', 'rate', '10gbit']);
    run('tc', ['class', 'add', 'dev', 'lo', 'parent', '1:', 'classid', CAPPED_CLASS, 'htb',
      'rate', `${this.limitKbit}kbit`, 'ceil', `${this.limitKbit}kbit`, 'burst', '4kb', 'cburst', '4kb']);
    run('tc', ['qdisc', 'add', 'dev', 'lo', 'parent', CAPPED_CLASS, 'pfifo', 'limit', '16']);
  }

  /** Puts the UDP datagrams addressed to `ports` under the cap. */
  cap(ports) {
    run('nft', ['add', 'table', 'inet', this.table]);
    run('nft', ['add', 'chain', 'inet', this.table, 'out', '{ type filter hook output priority 0; }']);
    run('nft', ['add', 'rule', 'inet', this.table, 'out', 'udp', 'dport', `{ ${ports.join(', ')} }`,
      'meta', 'priority', 'set', CAPPED_CLASS]);
  }

  lift() {
    try {
      run('nft', ['delete', 'table', 'inet', this.table]);
    } catch {
      // not installed
    }
  }

  remove() {
    this.lift();
    if (this.installed) {
      try {
        run('tc', ['qdisc', 'del', 'dev', 'lo', 'root']);
      } catch {
        // already gone
      }
      this.installed = false;
    }
  }
}
