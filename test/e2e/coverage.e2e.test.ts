// Issue 4 on the real lab: the polled daemon-coverage collectors (version, stats, pools, certs,
// counters, conncounters, policies) through the exporter CLI, each value checked against what
// strongSwan's own swanctl, openssl or /proc say.
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Parsed, parseExposition, select, value } from '../helpers/exposition.js';
import { parseSwanctlRaw, type RawTree } from '../helpers/swanctl-raw.js';
import { CLI, Lab } from './lab.js';

// A lab of its own, so that this file never collides with another lab on the machine.
const LAB_ENV = { LAB_DIR: '/var/tmp/sswlab-cov', LAB_PREFIX: 'sswcov-' };
const COLLECTORS = ['version', 'stats', 'pools', 'certs', 'counters', 'conncounters', 'policies'];

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** openssl's date of a certificate (`-enddate` / `-startdate`) as seconds since the epoch. */
function opensslDate(file: string, opt: '-enddate' | '-startdate'): number {
  const out = execFileSync('openssl', ['x509', '-in', file, '-noout', opt], { encoding: 'utf8' });
  return Date.parse(out.trim().replace(/^not(After|Before)=/, '')) / 1000;
}

function opensslSerial(file: string): string {
  const out = execFileSync('openssl', ['x509', '-in', file, '-noout', '-serial'], { encoding: 'utf8' });
  const hex = out.trim().replace('serial=', '').toLowerCase();
  return (hex.length % 2 ? `0${hex}` : hex).replace(/(..)(?!$)/g, '$1:');
}

/** `key=decimal` pairs of one swanctl --counters --raw set. */
function counterPairs(text: string): Record<string, number> {
  return Object.fromEntries([...text.matchAll(/([a-z-]+)=(\d+)/g)].map((m) => [m[1], Number(m[2])]));
}

describe('daemon coverage collectors on the real lab', { timeout: 180_000 }, () => {
  const lab = new Lab(LAB_ENV);
  let exporter: ChildProcess | undefined;
  let output = '';
  let url = '';

  async function scrape(): Promise<Parsed> {
    const res = await fetch(url);
    assert.equal(res.status, 200);
    return parseExposition(await res.text());
  }

  before(async () => {
    lab.up();
    const port = await freePort();
    url = `http://127.0.0.1:${port}/metrics`;
    exporter = spawn(
      process.execPath,
      [
        CLI,
        '--vici.address',
        lab.vici('gw1'),
        '--web.listen-address',
        `127.0.0.1:${port}`,
        '--log.level',
        'warn',
        '--collector.conncounters',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    exporter.stdout?.setEncoding('utf8').on('data', (d: string) => {
      output += d;
    });
    exporter.stderr?.setEncoding('utf8').on('data', (d: string) => {
      output += d;
    });
    const end = Date.now() + 15_000;
    for (;;) {
      try {
        if ((await fetch(url)).status === 200) break;
      } catch {
        // not listening yet
      }
      if (Date.now() > end || exporter.exitCode !== null)
        throw new Error(`exporter did not start: ${output}`);
      await sleep(100);
    }
  });

  after(async () => {
    const p = exporter;
    if (p && p.exitCode === null && p.signalCode === null) {
      const exited = new Promise<void>((r) => p.once('exit', () => r()));
      p.kill('SIGTERM');
      const t = setTimeout(() => p.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    }
    lab.down();
  });

  it('every collector succeeds, and each one is fast', async (t) => {
    const durations = new Map<string, number[]>();
    for (let i = 0; i < 5; i++) {
      const p = await scrape();
      assert.equal(value(p, 'strongswan_up'), 1);
      for (const c of COLLECTORS) {
        assert.equal(value(p, 'strongswan_exporter_collector_success', { collector: c }), 1, c);
        const d = value(p, 'strongswan_exporter_collector_duration_seconds', { collector: c });
        durations.set(c, [...(durations.get(c) ?? []), d]);
      }
    }
    for (const [c, ds] of durations) {
      const median = [...ds].sort((a, b) => a - b)[2] as number;
      t.diagnostic(`${c}: median ${(median * 1000).toFixed(2)} ms over 5 scrapes`);
      assert.ok(median < 0.5, `${c} took ${median} s`);
    }
  });

  it('version: strongswan_info has the labels of swanctl --version --daemon', async () => {
    const v = parseSwanctlRaw(lab.swanctl('gw1', '--version', '--daemon', '--raw'))[0]?.message as Record<
      string,
      string
    >;
    const p = await scrape();
    const info = select(p, 'strongswan_info');
    assert.equal(info.length, 1);
    assert.deepEqual(info[0]?.labels, {
      daemon: v.daemon,
      version: v.version,
      sysname: v.sysname,
      release: v.release,
      machine: v.machine,
    });
    assert.equal(info[0]?.value, 1);
    assert.equal(v.daemon, 'charon');
  });

  it('stats: IKE SAs, workers and plugins as swanctl --stats shows them, start time as /proc shows it', async () => {
    const p = await scrape();
    const s = parseSwanctlRaw(lab.swanctl('gw1', '--stats', '--raw'))[0]?.message as RawTree;
    const ikesas = s.ikesas as RawTree;
    assert.equal(value(p, 'strongswan_daemon_ike_sas'), Number(ikesas.total));
    assert.equal(value(p, 'strongswan_daemon_ike_sas'), 2, 'site and certconn');
    assert.equal(value(p, 'strongswan_daemon_half_open_ike_sas'), Number(ikesas['half-open']));
    assert.equal(value(p, 'strongswan_daemon_worker_pool_threads'), Number((s.workers as RawTree).total));
    const threads = select(p, 'strongswan_daemon_worker_threads');
    assert.deepEqual(threads.map((x) => x.labels.state).sort(), [
      'critical',
      'high',
      'idle',
      'low',
      'medium',
    ]);
    assert.deepEqual(
      select(p, 'strongswan_daemon_job_queue_length')
        .map((x) => x.labels.priority)
        .sort(),
      ['critical', 'high', 'low', 'medium'],
    );
    assert.equal(select(p, 'strongswan_daemon_scheduled_jobs').length, 1);
    assert.deepEqual(
      select(p, 'strongswan_daemon_plugin_info').map((x) => x.labels.plugin),
      s.plugins as string[],
    );
    assert.ok((s.plugins as string[]).includes('counters'));
    assert.equal(select(p, 'strongswan_daemon_malloc_bytes').length, 4, 'glibc has mallinfo');

    // uptime.since (local time, no zone) against the kernel's start time of the charon process
    const since = (s.uptime as RawTree).since as string;
    const pid = fs.readFileSync(`${LAB_ENV.LAB_DIR}/gw1/charon.pid`, 'utf8').trim();
    const startTicks = Number(fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ')[19]);
    const btime = Number(/^btime (\d+)$/m.exec(fs.readFileSync('/proc/stat', 'utf8'))?.[1]);
    const hz = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    const procStart = btime + startTicks / hz;
    const start = value(p, 'strongswan_daemon_start_time_seconds');
    assert.ok(Math.abs(start - procStart) <= 2, `since=${since} -> ${start}, /proc says ${procStart}`);
  });

  it('pools: rw_pool has 14 addresses and no leases', async () => {
    const p = await scrape();
    assert.equal(value(p, 'strongswan_pool_addresses', { pool: lab.env.LAB_POOL as string }), 14);
    assert.equal(value(p, 'strongswan_pool_leases', { pool: 'rw_pool', state: 'online' }), 0);
    assert.equal(value(p, 'strongswan_pool_leases', { pool: 'rw_pool', state: 'offline' }), 0);
  });

  it("certs: gw1's certificate, its peer's and the CA, with the dates and serials openssl reads", async () => {
    const p = await scrape();
    const gw1Cert = lab.env.LAB_GW1_CERT as string;
    const gw2Cert = lab.env.LAB_GW2_CERT as string;
    const caCert = lab.env.LAB_CA_CERT as string;
    const ca = 'O=sswlab, CN=sswlab CA';
    const own = {
      type: 'X509',
      flag: 'NONE',
      subject: 'O=sswlab, CN=gw1.sswlab',
      issuer: ca,
      serial: opensslSerial(gw1Cert),
      has_privkey: 'true',
    };
    assert.equal(
      value(p, 'strongswan_cert_not_after_timestamp_seconds', own),
      opensslDate(gw1Cert, '-enddate'),
    );
    assert.equal(
      value(p, 'strongswan_cert_not_before_timestamp_seconds', own),
      opensslDate(gw1Cert, '-startdate'),
    );
    const peer = {
      ...own,
      subject: 'O=sswlab, CN=gw2.sswlab',
      serial: opensslSerial(gw2Cert),
      has_privkey: 'false',
    };
    assert.equal(
      value(p, 'strongswan_cert_not_after_timestamp_seconds', peer),
      opensslDate(gw2Cert, '-enddate'),
    );
    const caLabels = {
      type: 'X509',
      flag: 'CA',
      subject: ca,
      issuer: ca,
      serial: opensslSerial(caCert),
      has_privkey: 'false',
    };
    assert.equal(
      value(p, 'strongswan_cert_not_after_timestamp_seconds', caLabels),
      opensslDate(caCert, '-enddate'),
    );
    // as many as swanctl lists, none unparsable, and no CRL (the lab CA has none)
    const listed = parseSwanctlRaw(lab.swanctl('gw1', '--list-certs', '--raw')).filter(
      (m) => m.kind === 'event',
    );
    assert.equal(value(p, 'strongswan_certs', { type: 'X509' }), listed.length);
    assert.equal(select(p, 'strongswan_cert_not_after_timestamp_seconds').length, listed.length);
    assert.equal(value(p, 'strongswan_certs_unparsable', { type: 'X509' }), 0);
    assert.equal(select(p, 'strongswan_crl_next_update_timestamp_seconds').length, 0);
  });

  it('counters: global and per-connection sets equal swanctl --counters', async () => {
    // IKE traffic (a liveness check, say) could move a counter between the two readings: retry then.
    for (let attempt = 1; ; attempt++) {
      const before = counterPairs(lab.swanctl('gw1', '--counters', '--raw'));
      const all = parseSwanctlRaw(lab.swanctl('gw1', '--counters', '--all', '--raw'))[0]?.message as RawTree;
      const p = await scrape();
      const afterwards = counterPairs(lab.swanctl('gw1', '--counters', '--raw'));
      if (JSON.stringify(before) !== JSON.stringify(afterwards) && attempt < 3) continue;
      assert.equal(Object.keys(before).length, 21);
      const check = (set: Record<string, number>, name: string, extra: Record<string, string>) => {
        const pre = Object.keys(extra).length ? 'strongswan_conn_' : 'strongswan_';
        for (const [k, v] of Object.entries(set)) {
          const m = /^(ike-init|ike-auth|create-child|info)-(in|out)-(req|resp)$/.exec(k);
          if (m) {
            const labels = {
              ...extra,
              exchange: m[1] as string,
              direction: m[2] as string,
              kind: m[3] === 'req' ? 'request' : 'response',
            };
            assert.equal(value(p, `${pre}ike_messages_total`, labels), v, `${name} ${k}`);
          }
        }
        assert.equal(
          value(p, `${pre}ike_rekeys_total`, { ...extra, role: 'initiator' }),
          set['ike-rekey-init'],
        );
        assert.equal(
          value(p, `${pre}ike_rekeys_total`, { ...extra, role: 'responder' }),
          set['ike-rekey-resp'],
        );
        assert.equal(value(p, `${pre}child_rekeys_total`, extra), set['child-rekey']);
        assert.equal(value(p, `${pre}ike_invalid_messages_total`, extra), set.invalid);
        assert.equal(value(p, `${pre}ike_invalid_spi_messages_total`, extra), set['invalid-spi']);
      };
      check(before, 'global', {});
      // gw1 initiated site and certconn: two IKE_SA_INIT and two IKE_AUTH requests at least
      assert.ok((before['ike-init-out-req'] ?? 0) >= 2, JSON.stringify(before));
      assert.ok((before['ike-auth-out-req'] ?? 0) >= 2, JSON.stringify(before));
      const sets = all.counters as Record<string, RawTree>;
      assert.deepEqual(Object.keys(sets).sort(), ['certconn', 'site']);
      for (const [conn, set] of Object.entries(sets)) {
        const nums = Object.fromEntries(Object.entries(set).map(([k, v]) => [k, Number(v)]));
        check(nums, conn, { conn });
        assert.equal(nums['ike-auth-out-req'], 1, conn);
      }
      // configured but never used: zeros
      assert.equal(
        value(p, 'strongswan_conn_ike_messages_total', {
          conn: 'never',
          exchange: 'ike-init',
          direction: 'out',
          kind: 'request',
        }),
        0,
      );
      break;
    }
  });

  it('policies: none, then one trap policy after swanctl --install, none after --uninstall', async () => {
    const counts = (p: Parsed) =>
      Object.fromEntries(select(p, 'strongswan_policies').map((s) => [s.labels.type, s.value]));
    assert.deepEqual(counts(await scrape()), { trap: 0, drop: 0, pass: 0 });
    // a trap policy needs a local address inside its local TS (see test/e2e/README.md)
    const ns = lab.env.LAB_GW1_NS as string;
    execFileSync('ip', ['-n', ns, 'addr', 'add', '10.91.9.1/24', 'dev', 'lo']);
    try {
      lab.swanctl('gw1', '--install', '--child', lab.env.LAB_NEVER_CHILD as string);
      const listed = parseSwanctlRaw(lab.swanctl('gw1', '--list-pols', '--raw')).filter(
        (m) => m.kind === 'event',
      );
      assert.equal(listed.length, 1);
      assert.deepEqual(counts(await scrape()), { trap: 1, drop: 0, pass: 0 });
      lab.swanctl('gw1', '--uninstall', '--child', lab.env.LAB_NEVER_CHILD as string);
      assert.deepEqual(counts(await scrape()), { trap: 0, drop: 0, pass: 0 });
    } finally {
      execFileSync('ip', ['-n', ns, 'addr', 'del', '10.91.9.1/24', 'dev', 'lo']);
    }
  });

  it('logged nothing but the start-up warning', () => {
    const lines = output.split('\n').filter((l) => l !== '' && !l.includes('running as root'));
    assert.deepEqual(lines, []);
  });
});
