// deploy/systemd: the service and socket units carry the settings the issue asks for (unprivileged
// user in the VICI socket's group, hardening, Debian's EnvironmentFile/$ARGS convention, reload by
// SIGHUP, socket activation with --web.systemd-socket), `systemd-analyze verify` accepts them without
// a warning (on a copy whose ExecStart points at the built exporter), `systemd-analyze security` rates
// the hardening, systemd-sysusers creates the user and group from the sysusers file, and the
// alternative drop-in for strongSwan's unit hands a socket that appears late to the group.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CLI, ROOT } from '../e2e/lab.js';

const DIR = path.join(ROOT, 'deploy/systemd');
const SERVICE = path.join(DIR, 'strongswan_exporter.service');
const SOCKET = path.join(DIR, 'strongswan_exporter.socket');
const SYSUSERS = path.join(DIR, 'strongswan_exporter.sysusers');
const DEFAULTS = path.join(DIR, 'strongswan_exporter.default');
const DROPIN = path.join(DIR, 'strongswan-vici-group.conf');

type Unit = Map<string, Map<string, string[]>>;

/** systemd's unit file syntax, as far as these units use it: sections, repeated keys, comments. */
function parseUnit(text: string): Unit {
  const unit: Unit = new Map();
  let section: Map<string, string[]> | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const s = /^\[(.+)\]$/.exec(line);
    if (s) {
      section = new Map();
      unit.set(s[1] as string, section);
      continue;
    }
    const eq = line.indexOf('=');
    assert.ok(section && eq > 0, `not a setting: ${line}`);
    const key = line.slice(0, eq).trim();
    section.set(key, [...(section.get(key) ?? []), line.slice(eq + 1).trim()]);
  }
  return unit;
}

function get(u: Unit, section: string, key: string): string | undefined {
  const v = u.get(section)?.get(key);
  return v?.[v.length - 1];
}

function which(cmd: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

const serviceText = fs.readFileSync(SERVICE, 'utf8');
const socketText = fs.readFileSync(SOCKET, 'utf8');
const service = parseUnit(serviceText);
const socket = parseUnit(socketText);

describe('deploy/systemd', () => {
  let tmp = '';
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'systemd-units-'));
  });
  after(() => {
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('the service runs the exporter the Debian way, as an unprivileged user in the socket group', () => {
    const s = (k: string) => get(service, 'Service', k);
    assert.equal(s('User'), 'strongswan-exporter');
    assert.equal(s('DynamicUser'), 'no');
    assert.equal(s('SupplementaryGroups'), 'strongswan-vici');
    assert.equal(s('EnvironmentFile'), '-/etc/default/strongswan_exporter');
    // systemd expands ${STATE_DIRECTORY}, not a template
    const execStart =
      '/usr/bin/strongswan_exporter --collector.events.state-directory=$' + '{STATE_DIRECTORY} $ARGS';
    assert.equal(s('ExecStart'), execStart);
    // the events counters survive restarts, in the one directory ProtectSystem=strict leaves writable
    assert.equal(s('StateDirectory'), 'strongswan_exporter');
    assert.equal(s('StateDirectoryMode'), '0700');
    assert.equal(s('ExecReload'), '/bin/kill -HUP $MAINPID');
    assert.equal(s('Restart'), 'on-failure');
    assert.equal(get(service, 'Install', 'WantedBy'), 'multi-user.target');
    // The group story is told where an admin looks: in the unit.
    assert.match(serviceText, /charon \{ group = strongswan-vici \}/);
    assert.match(serviceText, /0770/);
  });

  it('the service is hardened, without the settings that break node or the group access', () => {
    const want: Record<string, string> = {
      NoNewPrivileges: 'yes',
      ProtectSystem: 'strict',
      ProtectHome: 'yes',
      PrivateTmp: 'yes',
      PrivateDevices: 'yes',
      ProtectKernelTunables: 'yes',
      ProtectKernelModules: 'yes',
      ProtectControlGroups: 'yes',
      RestrictAddressFamilies: 'AF_UNIX AF_INET AF_INET6',
      RestrictNamespaces: 'yes',
      RestrictSUIDSGID: 'yes',
      LockPersonality: 'yes',
      CapabilityBoundingSet: '',
      SystemCallArchitectures: 'native',
    };
    for (const [k, v] of Object.entries(want)) assert.equal(get(service, 'Service', k), v, k);
    assert.notEqual(get(service, 'Service', 'MemoryDenyWriteExecute'), 'yes', "V8's JIT needs W+X memory");
    assert.notEqual(get(service, 'Service', 'PrivateUsers'), 'yes', 'the socket group must stay mapped');
  });

  it('the socket unit listens on 9814 for socket activation with --web.systemd-socket', () => {
    assert.equal(get(socket, 'Socket', 'ListenStream'), '9814');
    assert.equal(get(socket, 'Install', 'WantedBy'), 'sockets.target');
    assert.match(socketText, /--web\.systemd-socket/);
    assert.match(serviceText, /--web\.systemd-socket/);
    assert.match(fs.readFileSync(DEFAULTS, 'utf8'), /^ARGS=""$/m);
    // The flag the units rely on exists.
    const help = spawnSync(process.execPath, [CLI, '--help'], { encoding: 'utf8' });
    assert.equal(help.status, 0);
    assert.match(help.stdout, /--web\.systemd-socket/);
    assert.match(help.stdout, /--collector\.events\.state-directory=DIR/);
  });

  /**
   * `systemd-analyze verify` on copies of the units (name, text) whose ExecStart points at the build
   * (the real /usr/bin/strongswan_exporter is not installed here): no error, no warning. Returns the
   * first copy's path.
   */
  function verifyClean(analyze: string, units: [string, string][]): string {
    const bin = path.join(tmp, 'strongswan_exporter');
    fs.writeFileSync(
      bin,
      `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)} "$@"\n`,
      {
        mode: 0o755,
      },
    );
    const files = units.map(([name, text]) => {
      const f = path.join(tmp, name);
      fs.writeFileSync(f, text.replace('ExecStart=/usr/bin/strongswan_exporter', `ExecStart=${bin}`));
      return f;
    });
    const r = spawnSync(analyze, ['verify', ...files], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(`${r.stdout}${r.stderr}`.trim(), '', 'no warnings');
    return files[0] as string;
  }

  it('systemd-analyze verify accepts both units without a warning', (t) => {
    const analyze = which('systemd-analyze');
    if (!analyze) return t.skip('systemd-analyze is not installed (Debian package systemd)');
    const svc = verifyClean(analyze, [
      ['strongswan_exporter.service', serviceText],
      ['strongswan_exporter.socket', socketText],
    ]);

    // The same check does notice a broken unit (so that silence above means something).
    const bad = path.join(tmp, 'broken.service');
    fs.writeFileSync(bad, serviceText.replace('ProtectSystem=strict', 'ProtectSystem=stricter'));
    const rb = spawnSync(analyze, ['verify', bad], { encoding: 'utf8', timeout: 60_000 });
    // systemd 252 says "protect system value", 257 "ProtectSystem="
    assert.match(`${rb.stdout}${rb.stderr}`, /protect ?system/i);

    const sec = spawnSync(analyze, ['security', '--offline=yes', '--no-pager', svc], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    const level = /Overall exposure level for \S+: ([\d.]+)/.exec(sec.stdout)?.[1];
    if (level === undefined) {
      t.diagnostic(`systemd-analyze security --offline not available: ${sec.stderr.trim()}`);
      return;
    }
    t.diagnostic(`systemd-analyze security: exposure ${level} (0 best, 10 worst)`);
    assert.ok(Number(level) <= 2.0, `exposure ${level}`);
  });

  it('the textfile timer and service verify, and their command line is one the scrape subcommand takes', (t) => {
    const svcText = fs.readFileSync(path.join(DIR, 'strongswan_exporter-textfile.service'), 'utf8');
    const unit = parseUnit(svcText);
    assert.equal(get(unit, 'Service', 'Type'), 'oneshot');
    assert.equal(get(unit, 'Service', 'User'), 'strongswan-exporter');
    assert.equal(get(unit, 'Service', 'SupplementaryGroups'), 'strongswan-vici');
    const exec = get(unit, 'Service', 'ExecStart') ?? '';
    assert.match(
      exec,
      /^\/usr\/bin\/strongswan_exporter scrape --output \/var\/lib\/prometheus\/node-exporter\/\S+\.prom /,
    );
    assert.equal(get(unit, 'Service', 'ReadWritePaths'), '/var/lib/prometheus/node-exporter');
    assert.match(fs.readFileSync(DEFAULTS, 'utf8'), /^SCRAPE_ARGS=""$/m);
    // The same command line, with the state directory and output here, is one the exporter takes.
    const args = exec
      .split(' ')
      .slice(1)
      .filter((a) => a !== '$SCRAPE_ARGS')
      .map((a) =>
        a.replace(`$\{STATE_DIRECTORY}`, tmp).replace(/^\/var\/lib\/prometheus\/node-exporter\//, `${tmp}/`),
      );
    const run = spawnSync(process.execPath, [CLI, ...args, '--vici.address', `unix://${tmp}/none.vici`], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.equal(run.status, 1, run.stderr); // charon away: 1, not a usage error (2)
    assert.match(fs.readFileSync(path.join(tmp, 'strongswan.prom'), 'utf8'), /^strongswan_up 0$/m);

    const analyze = which('systemd-analyze');
    if (!analyze) return t.skip('systemd-analyze is not installed (Debian package systemd)');
    verifyClean(analyze, [
      ['strongswan_exporter-textfile.service', svcText],
      [
        'strongswan_exporter-textfile.timer',
        fs.readFileSync(path.join(DIR, 'strongswan_exporter-textfile.timer'), 'utf8'),
      ],
    ]);
  });

  it('systemd-sysusers creates the user and the socket group from the sysusers file', (t) => {
    const sysusers = which('systemd-sysusers');
    if (!sysusers) return t.skip('systemd-sysusers is not installed');
    const root = path.join(tmp, 'root');
    fs.mkdirSync(path.join(root, 'etc'), { recursive: true });
    const r = spawnSync(sysusers, [`--root=${root}`, '-'], {
      input: fs.readFileSync(SYSUSERS),
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.equal(r.status, 0, r.stderr);
    const passwd = fs.readFileSync(path.join(root, 'etc/passwd'), 'utf8');
    const group = fs.readFileSync(path.join(root, 'etc/group'), 'utf8');
    assert.match(passwd, /^strongswan-exporter:x:\d+:\d+:[^:]*:\/nonexistent:\/usr\/sbin\/nologin$/m);
    assert.match(group, /^strongswan-vici:x:\d+:strongswan-exporter$/m);
  });

  it('the strongSwan drop-in verifies and hands a socket that appears late to the group', async (t) => {
    const dropin = parseUnit(fs.readFileSync(DROPIN, 'utf8'));
    const post = get(dropin, 'Service', 'ExecStartPost') ?? '';
    assert.match(post, /chgrp strongswan-vici \/run\/charon\.vici/);
    const analyze = which('systemd-analyze');
    if (analyze) {
      const unit = path.join(tmp, 'strongswan.service');
      fs.writeFileSync(unit, `[Service]\nType=notify\nExecStart=/bin/true\nExecStartPost=${post}\n`);
      const r = spawnSync(analyze, ['verify', unit], { encoding: 'utf8', timeout: 60_000 });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(`${r.stdout}${r.stderr}`.trim(), '', 'no warnings');
    }
    if (process.getuid?.() !== 0) return t.skip('chgrp to another group needs root');
    const nogroup = /^nogroup:x:(\d+):/m.exec(fs.readFileSync('/etc/group', 'utf8'))?.[1];
    if (nogroup === undefined) return t.skip('no group nogroup to hand the socket to');
    // systemd turns $$ into $; the command as sh gets it, on a socket of our own.
    const sock = path.join(tmp, 'charon.vici');
    const cmd = /^\/bin\/sh -c '(.*)'$/.exec(post)?.[1]?.replaceAll('$$', '$');
    assert.ok(cmd, post);
    const sh = spawn('sh', [
      '-c',
      cmd.replaceAll('/run/charon.vici', sock).replace('strongswan-vici', 'nogroup'),
    ]);
    const exited = new Promise<number | null>((resolve) => sh.on('exit', resolve));
    await new Promise((r) => setTimeout(r, 300));
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(sock, r));
    try {
      assert.equal(await exited, 0);
      assert.equal(fs.statSync(sock).gid, Number(nogroup));
    } finally {
      server.close();
    }
  });
});
