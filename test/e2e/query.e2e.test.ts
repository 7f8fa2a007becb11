// Issue: the VICI client against the real daemon. `query` must decode exactly what strongSwan's own
// C client (`swanctl --raw`) shows, SA by SA, after real ESP traffic.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { jsonLines, runCli } from '../helpers/cli.js';
import { parseSwanctlRaw, type RawTree } from '../helpers/swanctl-raw.js';
import { CLI, Lab } from './lab.js';

// Relative times tick between the two listings; everything else must be identical.
const TICKING = new Set([
  'established',
  'rekey-time',
  'reauth-time',
  'use-in',
  'use-out',
  'install-time',
  'life-time',
  'running',
]);

function compareTrees(ours: unknown, theirs: unknown, where: string): void {
  if (typeof theirs === 'string') {
    assert.equal(typeof ours, 'string', `${where}: type`);
    const key = where.slice(where.lastIndexOf('.') + 1);
    if (TICKING.has(key))
      assert.ok(Math.abs(Number(ours) - Number(theirs)) <= 2, `${where}: ${ours} vs ${theirs}`);
    else assert.equal(ours, theirs, where);
    return;
  }
  if (Array.isArray(theirs)) {
    assert.deepEqual(ours, theirs, where);
    return;
  }
  const t = theirs as RawTree;
  const o = ours as Record<string, unknown>;
  assert.deepEqual(Object.keys(o).sort(), Object.keys(t).sort(), `${where}: keys`);
  for (const k of Object.keys(t)) compareTrees(o[k], t[k], `${where}.${k}`);
}

describe('query against the real daemon', { timeout: 120_000 }, () => {
  const lab = new Lab();
  before(() => {
    lab.up();
    lab.lab('traffic', '4');
  });
  after(() => lab.down());

  it('query list-sas decodes exactly what swanctl --list-sas --raw shows, SA by SA', async () => {
    const r = await runCli(['query', 'list-sas', '--vici.address', lab.vici('gw1')]);
    const raw = parseSwanctlRaw(lab.swanctl('gw1', '--list-sas', '--raw'));
    assert.equal(r.code, 0, r.stderr);
    const lines = jsonLines(r.stdout);
    const ours = lines.filter((l) => l.event === 'list-sa').map((l) => l.message as Record<string, unknown>);
    const theirs = raw.filter((m) => m.kind === 'event').map((m) => m.message);
    assert.ok(theirs.length >= 1, 'the lab has IKE SAs');
    assert.equal(ours.length, theirs.length, 'same number of IKE SAs');
    assert.deepEqual(lines.at(-1), { response: {} });
    const byId = (list: Record<string, unknown>[]) =>
      new Map(list.map((m) => [(Object.values(m)[0] as Record<string, unknown>).uniqueid as string, m]));
    const theirsById = byId(theirs as Record<string, unknown>[]);
    for (const [id, sa] of byId(ours)) {
      compareTrees(sa, theirsById.get(id), `ike ${id}`);
    }
    // The site tunnel carries real ESP traffic: counters are non-zero in both directions.
    const site = ours.find((m) => 'site' in m)?.site as {
      'child-sas': Record<string, Record<string, string>>;
    };
    const children = Object.values(site['child-sas']);
    assert.deepEqual(children.map((c) => c.name).sort(), ['net1', 'net2']);
    for (const c of children) {
      assert.equal(c.state, 'INSTALLED');
      for (const k of ['bytes-in', 'bytes-out', 'packets-in', 'packets-out'])
        assert.ok(Number(c[k]) > 0, `${c.name} ${k}`);
    }
  });

  for (const [command, swanctlArgs, eventName] of [
    ['list-conns', ['--list-conns', '--raw'], 'list-conn'],
    ['get-pools', ['--list-pools', '--raw'], undefined],
    ['stats', ['--stats', '--raw'], undefined],
  ] as const) {
    it(`query ${command} decodes what swanctl ${swanctlArgs[0]} shows`, async () => {
      const r = await runCli(['query', command, '--vici.address', lab.vici('gw1')]);
      assert.equal(r.code, 0, r.stderr);
      const lines = jsonLines(r.stdout);
      const raw = parseSwanctlRaw(lab.swanctl('gw1', ...swanctlArgs));
      if (eventName) {
        const ours = lines.filter((l) => l.event === eventName).map((l) => l.message);
        const theirs = raw.filter((m) => m.kind === 'event').map((m) => m.message);
        assert.equal(ours.length, theirs.length);
        for (const [i, m] of ours.entries()) compareTrees(m, theirs[i], `${command}[${i}]`);
      } else {
        const response = lines.at(-1)?.response as Record<string, unknown>;
        const theirs = raw.find((m) => m.kind === 'reply')?.message as RawTree;
        if (command === 'stats') {
          // Worker and queue figures move between two calls; compare the shape and the stable parts.
          assert.deepEqual(Object.keys(response).sort(), Object.keys(theirs).sort());
          assert.deepEqual(response.plugins, theirs.plugins);
          // charon works `since` out from its uptime at each call: two calls can differ by a second.
          const since = (t: RawTree | Record<string, unknown>) => String((t.uptime as RawTree).since);
          const apart = Math.abs(Date.parse(since(response)) - Date.parse(since(theirs)));
          assert.ok(apart <= 1000, `uptime.since ${since(response)} vs ${since(theirs)}`);
          assert.equal((response.ikesas as RawTree).total, (theirs.ikesas as RawTree).total);
        } else {
          compareTrees(response, theirs, command);
          assert.equal((response.rw_pool as RawTree).size as string, '14');
        }
      }
    });
  }

  it("list-conns carries its version's keys: ports and proposals on 6.1, neither on 5.9 and 6.0.1", async () => {
    const r = await runCli(['query', 'list-conns', '--vici.address', lab.vici('gw1')]);
    assert.equal(r.code, 0, r.stderr);
    const site = jsonLines(r.stdout).find((l) => l.event === 'list-conn' && 'site' in (l.message as object))
      ?.message as Record<string, Record<string, unknown>>;
    const conn = site.site as Record<string, unknown>;
    // local_port/remote_port came with 6.0.3 (list-conns); the IKE proposals are listed by 6.1.0,
    // not by 6.0.1 (Debian ships no release in between)
    if (lab.atLeast(6, 0, 3)) assert.deepEqual([conn.local_port, conn.remote_port], ['500', '500']);
    else assert.ok(!('local_port' in conn) && !('remote_port' in conn), Object.keys(conn).join(','));
    if (lab.atLeast(6, 1, 0)) {
      assert.deepEqual(conn.proposals, {
        '0': {
          encr: ['AES_CBC_128'],
          integ: ['HMAC_SHA2_256_128'],
          prf: ['PRF_HMAC_SHA2_256'],
          ke: ['ECP_256'],
        },
      });
    } else if (!lab.atLeast(6, 0, 2)) assert.ok(!('proposals' in conn), Object.keys(conn).join(','));
  });

  it('query version answers the daemon name and version', async () => {
    const r = await runCli(['query', 'version', '--vici.address', lab.vici('gw1')]);
    assert.equal(r.code, 0, r.stderr);
    const v = jsonLines(r.stdout).at(-1)?.response as Record<string, string>;
    assert.equal(v.daemon, 'charon');
    assert.match(v.version ?? '', /^\d+\.\d+\.\d+/);
    // the strongSwan the lab runs (this machine's, or a Debian root's: LAB_STRONGSWAN)
    assert.equal(v.version, lab.env.LAB_STRONGSWAN_VERSION);
    assert.ok(v.sysname && v.release && v.machine);
  });

  it('ends quietly, exit 0, when its output pipe is closed before it writes', async () => {
    const p = spawn(process.execPath, [CLI, 'query', 'list-sas', '--vici.address', lab.vici('gw1')], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    // the reader is gone before the first line: every write meets EPIPE
    p.stdout.destroy();
    let stderr = '';
    p.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    const code = await new Promise<number | null>((resolve) => p.on('close', resolve));
    assert.equal(stderr, '');
    assert.equal(code, 0);
  });

  it('query list-sas | head -c 600: 600 bytes, nothing on stderr, exit 0', () => {
    const script = `set -o pipefail; "$0" "$1" query list-sas --vici.address "$2" | head -c 600; echo "query exited \${PIPESTATUS[0]}" >&2`;
    const r = spawnSync('bash', ['-c', script, process.execPath, CLI, lab.vici('gw1')], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.equal(r.stdout.length, 600);
    assert.equal(r.stderr, 'query exited 0\n');
  });

  it('query with a filter key passes it to the daemon', async () => {
    const r = await runCli(['query', 'list-sas', 'ike=never', '--vici.address', lab.vici('gw1')]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(jsonLines(r.stdout), [{ response: {} }]);
  });

  it('a command the daemon does not know: one line on stderr, non-zero exit', async () => {
    const r = await runCli(['query', 'no-such-command', '--vici.address', lab.vici('gw1')]);
    assert.notEqual(r.code, 0);
    assert.equal(r.stderr.trim().split('\n').length, 1);
    assert.match(r.stderr, /no-such-command: command unknown/);
  });
});

describe('query without a daemon', () => {
  it('a socket path where nothing listens: one line, non-zero, fast', async () => {
    const r = await runCli([
      'query',
      'version',
      '--vici.address',
      'unix:///nonexistent/charon.vici',
      '--vici.timeout',
      '2s',
    ]);
    assert.notEqual(r.code, 0);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /no such socket/);
    assert.ok(r.ms < 3000, `${r.ms} ms`);
  });

  it('a server that accepts and never answers: one line, non-zero, within the timeout', async () => {
    const server = net.createServer(() => {});
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    try {
      const r = await runCli([
        'query',
        'list-sas',
        '--vici.address',
        `tcp://127.0.0.1:${port}`,
        '--vici.timeout',
        '1s',
      ]);
      assert.notEqual(r.code, 0);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, /no reply within 1000 ms/);
      assert.ok(r.ms < 1000 + 1500, `${r.ms} ms`);
    } finally {
      server.close();
    }
  });
});
