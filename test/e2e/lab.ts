// The e2e tests' handle on the real strongSwan lab (scripts/lab.sh): bring it up, run swanctl against
// a gateway, tear it down, always, also when a test fails or the process is interrupted.

import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const LAB = path.join(ROOT, 'scripts/lab.sh');
export const CLI = path.join(ROOT, 'dist/src/cli/main.js');

export type Gw = 'gw1' | 'gw2';
/** A gateway, or road-warrior user K of `rw-up` (`u1`, `u2`, ...): what `lab.sh swanctl` takes. */
export type Node = Gw | `u${number}`;

/** What ping's summary says of one `lab.sh rw-traffic`. */
export interface Pings {
  transmitted: number;
  received: number;
}

export class Lab {
  env: Record<string, string> = {};
  private isUp = false;

  /** Environment of every lab.sh call (mutable: a test may add LAB_RW_PROPOSALS once it knows the version). */
  constructor(readonly extraEnv: Record<string, string> = {}) {}

  lab(...args: string[]): string {
    return execFileSync('bash', [LAB, ...args], {
      encoding: 'utf8',
      env: { ...process.env, ...this.extraEnv },
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 120_000,
    });
  }

  /** `lab.sh traffic COUNT` in the background: resolves when the pings are through. */
  async trafficAsync(count: number): Promise<void> {
    await this.labAsync('traffic', String(count));
  }

  /** Any `lab.sh` command in the background (the test's event loop keeps running): its stdout. */
  labAsync(...args: string[]): Promise<string> {
    return new Promise((resolve, reject) => {
      execFile(
        'bash',
        [LAB, ...args],
        { encoding: 'utf8', env: { ...process.env, ...this.extraEnv }, timeout: 120_000 },
        (err, stdout, stderr) =>
          err ? reject(new Error(`lab.sh ${args.join(' ')}: ${err.message}${stderr}`)) : resolve(stdout),
      );
    });
  }

  /**
   * `lab.sh rw-up N` with `env` on top (LAB_RW_PROPOSALS, LAB_RW_ESP_PROPOSALS), then the lab's
   * environment again, which now names the users (LAB_RW_USER<K>_EAP_ID, ...).
   */
  rwUp(n: number, env: Record<string, string> = {}): this {
    execFileSync('bash', [LAB, 'rw-up', String(n)], {
      encoding: 'utf8',
      env: { ...process.env, ...this.extraEnv, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 120_000,
    });
    this.readEnv();
    return this;
  }

  /** `lab.sh rw-traffic K COUNT` in the background: ping's transmitted and received counts. */
  async rwTraffic(k: number, count: number): Promise<Pings> {
    const out = await this.labAsync('rw-traffic', String(k), String(count));
    const m = /(\d+) packets transmitted, (\d+) received/.exec(out);
    if (!m) throw new Error(`rw-traffic ${k} ${count}: no ping summary in ${JSON.stringify(out)}`);
    return { transmitted: Number(m[1]), received: Number(m[2]) };
  }

  up(): this {
    process.once('exit', () => this.down());
    for (const sig of ['SIGINT', 'SIGTERM'] as const) {
      process.once(sig, () => {
        this.down();
        process.exit(130);
      });
    }
    this.isUp = true;
    this.lab('up');
    this.readEnv();
    return this;
  }

  private readEnv(): void {
    this.env = Object.fromEntries(
      this.lab('env')
        .split('\n')
        .filter((l) => l.includes('='))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
  }

  down(): void {
    if (!this.isUp) return;
    this.isUp = false;
    try {
      this.lab('down');
    } catch {
      // best effort: never let teardown hide the real failure
    }
  }

  vici(gw: Gw): string {
    return this.env[gw === 'gw1' ? 'LAB_GW1_VICI' : 'LAB_GW2_VICI'] as string;
  }

  /** swanctl of the lab's strongSwan (this machine's, or the Debian root's of LAB_STRONGSWAN). */
  swanctl(gw: Node, ...args: string[]): string {
    return execFileSync('bash', [LAB, 'swanctl', gw, ...args], {
      encoding: 'utf8',
      env: { ...process.env, ...this.extraEnv },
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 30_000,
    });
  }

  /**
   * A real failure: gw1 initiates a connection whose IKE proposal gw2 has no match for, once, and the
   * connection is removed again. Both daemons raise the `alert` event `proposal-mismatch-ike`
   * (strongSwan 6.0.3 and later); gw1 counts one IKE SA of `mismatch` down.
   */
  proposalMismatch(): void {
    const file = path.join(this.env.LAB_DIR as string, 'gw1/swanctl/conf.d/mismatch.conf');
    fs.writeFileSync(
      file,
      `connections {
  mismatch {
    version = 2
    local_addrs = ${this.env.LAB_GW1_IKE_ADDR}
    remote_addrs = ${this.env.LAB_GW2_IKE_ADDR}
    proposals = aes256-sha384-ecp384
    local {
      auth = psk
      id = gw1-site@sswlab
    }
    remote {
      auth = psk
      id = gw2-site@sswlab
    }
    children {
      mnet {
        local_ts = 10.91.8.0/24
        remote_ts = 10.92.8.0/24
      }
    }
  }
}
`,
    );
    try {
      this.swanctl('gw1', '--load-conns');
      assert.throws(
        () => this.swanctl('gw1', '--initiate', '--ike', 'mismatch', '--child', 'mnet', '--timeout', '10'),
        /NO_PROPOSAL_CHOSEN|failed/,
      );
    } finally {
      fs.rmSync(file, { force: true });
      this.swanctl('gw1', '--load-conns');
    }
  }

  /** The lab's strongSwan version as [major, minor, patch] (from `lab.sh env`). */
  get version(): [number, number, number] {
    const [a = 0, b = 0, c = 0] = (this.env.LAB_STRONGSWAN_VERSION ?? '').split('.').map(Number);
    return [a, b, c];
  }

  /** Whether the lab's strongSwan is at least major.minor.patch. */
  atLeast(major: number, minor = 0, patch = 0): boolean {
    const [a, b, c] = this.version;
    return a !== major ? a > major : b !== minor ? b > minor : c >= patch;
  }
}
