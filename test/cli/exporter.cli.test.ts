// The exporter binary as an operator meets it: bad flags and config files are one line and exit 2,
// systemd socket activation serves on the passed socket, SIGTERM stops it cleanly.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { CLI, runCli } from '../helpers/cli.js';
import { Child, freePort, waitFor } from '../helpers/processes.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cli-'));
const file = (name: string, text: string) => {
  const p = path.join(dir, name);
  fs.writeFileSync(p, text);
  return p;
};

describe('exporter CLI', () => {
  const bad: [string, string[], RegExp][] = [
    ['an unknown flag', ['--web.listen-adress=:1'], /Unknown option '--web.listen-adress'/],
    ['a bad duration', ['--vici.timeout=soon'], /--vici.timeout: invalid duration "soon"/],
    ['a bad listen address', ['--web.listen-address=localhost'], /invalid --web.listen-address "localhost"/],
    ['a bad VICI address', ['--vici.address=http://x'], /--vici.address: invalid VICI address/],
    ['a bad log level', ['--log.level=loud'], /invalid --log.level "loud"/],
    ['an unknown collector', ['--collector.nope'], /Unknown option '--collector.nope'/],
    ['a missing web config', ['--web.config.file=/nonexistent.yml'], /cannot read \/nonexistent.yml: ENOENT/],
    [
      'a web config with an unknown key',
      ['--web.config.file', file('w.yml', 'tls_server_config:\n  certfile: x\n')],
      /unknown key "certfile"/,
    ],
    [
      'a state directory that does not exist',
      ['--collector.events.state-directory=/nonexistent/state'],
      /--collector.events.state-directory "\/nonexistent\/state": ENOENT/,
    ],
    [
      'a state directory that is a file',
      ['--collector.events.state-directory', file('notadir', '')],
      /--collector.events.state-directory ".*notadir": not a directory/,
    ],
    [
      'a targets file with a raw URL',
      ['--config.file', file('t.yml', 'targets:\n  a: {address: "http://x"}\n')],
      /targets.a.address/,
    ],
  ];
  for (const [what, args, re] of bad) {
    it(`refuses ${what}: one line, exit 2`, async () => {
      const r = await runCli([...args, '--web.listen-address=127.0.0.1:0']);
      assert.equal(r.code, 2, r.stderr);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, re);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    });
  }

  it('refuses --web.systemd-socket without sockets from systemd: one line, exit 1', async () => {
    const r = await runCli(['--web.systemd-socket', '--log.level=error']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no sockets from systemd/);
  });

  it('serves on the socket systemd passes (systemd-socket-activate), stops cleanly on SIGTERM', {
    skip: !fs.existsSync('/usr/bin/systemd-socket-activate') && 'no systemd-socket-activate',
  }, async () => {
    const port = await freePort();
    const child = new Child(
      spawn(
        'systemd-socket-activate',
        [
          '-l',
          `127.0.0.1:${port}`,
          process.execPath,
          CLI,
          '--web.systemd-socket',
          '--vici.address',
          '/nonexistent/charon.vici',
        ],
        {
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      ),
    );
    try {
      await waitFor('activation', async () => (await fetch(`http://127.0.0.1:${port}/metrics`)).ok);
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      assert.match(text, /^strongswan_up 0$/m);
      // The socket systemd bound is the one served: no listen() of our own on that port.
      assert.match(child.output, new RegExp(`msg=listening address=127\\.0\\.0\\.1:${port} `));
      assert.match(child.output, /Communication attempt on fd 3/);

      const exited = new Promise<number | null>((r) => child.proc.once('exit', (code) => r(code)));
      child.proc.kill('SIGTERM');
      assert.equal(await exited, 0);
      assert.match(child.output, /msg="shutting down" signal=SIGTERM/);
    } finally {
      await child.stop();
    }
  });

  it('prints its version', async () => {
    const r = await runCli(['--version']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^strongswan_exporter \d+\.\d+\.\d+ \(node v20/);
  });
});
