// The set-up checks what the lab needs by function: a charon of the lab's configuration must load every
// plugin and swanctl must parse the lab's certificates. Where a plugin cannot be loaded (its file
// replaced by /dev/null in a mount namespace of the test's own, so nothing on the machine changes),
// the README's demo command stops at once with one line naming the plugin and its Debian package, and
// a failed `lab.sh up` takes down what it started.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { LAB, ROOT } from './lab.js';

const SUITE = process.env.LAB_STRONGSWAN ?? 'system';
const PLUGINS_DIR = path.join(
  SUITE === 'system' ? '/' : path.join(process.env.LAB_ROOTS ?? '/var/tmp/sswlab-roots', SUITE),
  'usr/lib/ipsec/plugins',
);
const OPENSSL = path.join(PLUGINS_DIR, 'libstrongswan-openssl.so');
// a lab of its own, so that nothing of another test's lab is touched
const ENV = { ...process.env, LAB_DIR: '/var/tmp/sswlab-setup', LAB_PREFIX: 'sswsu-' };

/** Run a command with the openssl plugin unloadable, in a mount namespace of its own. */
function withoutOpenssl(cmd: string[]): { status: number | null; stderr: string; ms: number } {
  const t0 = Date.now();
  const r = spawnSync(
    'unshare',
    [
      '-m',
      '--propagation',
      'private',
      'sh',
      '-c',
      'mount --bind /dev/null "$1" && shift && exec "$@"',
      'sh',
      OPENSSL,
      ...cmd,
    ],
    { cwd: ROOT, env: ENV, encoding: 'utf8', timeout: 120_000 },
  );
  return { status: r.status, stderr: r.stderr, ms: Date.now() - t0 };
}

function netnsList(): string {
  return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
}

describe('set-up and lab check what the lab needs', { timeout: 300_000 }, () => {
  it('lab.sh check passes where everything is installed', () => {
    const out = execFileSync('bash', [LAB, 'check'], {
      env: ENV,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    assert.equal(out, '');
    assert.ok(!fs.existsSync('/var/tmp/sswlab-setup-check'), 'its directory is removed');
  });

  it('scripts/demo.sh stops at once with one line naming the plugin that cannot be loaded', () => {
    assert.ok(fs.existsSync(OPENSSL), OPENSSL);
    const r = withoutOpenssl(['bash', 'scripts/demo.sh']);
    assert.notEqual(r.status, 0);
    assert.ok(r.ms < 120_000, `${r.ms} ms`);
    const errors = r.stderr.split('\n').filter((l) => /error/i.test(l));
    assert.equal(errors.length, 1, r.stderr);
    assert.match(
      errors[0] as string,
      // (without openssl, eap-md5 cannot load either: its MD5 comes from openssl)
      /^lab: error: charon \(strongSwan [\d.]+\S*\) cannot load the plugin\(s\) the lab needs: openssl(?: eap-md5)? \(libstrongswan-openssl\.so(?: libstrongswan-eap-md5\.so)? in \S+; Debian package\(s\): libstrongswan-standard-plugins(?: libcharon-extra-plugins)?\)$/,
    );
    assert.equal(r.stderr.trim().split('\n').at(-1), errors[0], 'the last line');
    assert.doesNotMatch(netnsList(), /sswsu-/);
    assert.ok(!fs.existsSync('/var/tmp/sswlab-setup-check'));
  });

  it('a failed lab.sh up says why in one line, takes down what it started and keeps the logs', () => {
    const r = withoutOpenssl(['bash', LAB, 'up']);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /cannot load the plugin\(s\) the lab needs: openssl /);
    assert.match(
      r.stderr,
      /up failed: the lab is torn down \(logs kept in \/var\/tmp\/sswlab-setup\.failed\)/,
    );
    assert.doesNotMatch(r.stderr, /timeout/);
    assert.doesNotMatch(netnsList(), /sswsu-/);
    assert.ok(!fs.existsSync('/var/tmp/sswlab-setup'), 'LAB_DIR removed');
    const pids = spawnSync('pgrep', ['-f', '/var/tmp/sswlab-setup'], { encoding: 'utf8' }).stdout.trim();
    assert.equal(pids, '', 'no process of that lab left');
    assert.match(fs.readFileSync('/var/tmp/sswlab-setup.failed/gw1/charon.log', 'utf8'), /openssl/);
    fs.rmSync('/var/tmp/sswlab-setup.failed', { recursive: true, force: true });
  });
});
