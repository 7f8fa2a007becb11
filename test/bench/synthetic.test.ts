// The synthetic charon (bench/synthetic-charon.ts) must be something strongSwan's own C client accepts:
// swanctl parses every listing it sends, and our ViciClient decodes the same data as swanctl shows.
// Needs /usr/sbin/swanctl (Debian: strongswan-swanctl); skips with a message when it is missing.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { IkeRec } from '../../bench/synthetic/table.js';
import { type SyntheticCharon, startSyntheticCharon } from '../../bench/synthetic-charon.js';
import {
  ViciClient,
  ViciClosedError,
  type ViciSection,
  ViciTimeoutError,
  ViciUnknownEventError,
} from '../../src/vici/index.js';

const SWANCTL = ['/usr/sbin/swanctl', '/usr/bin/swanctl'].find((p) => fs.existsSync(p));
const N = 200;
const C = 2;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run swanctl asynchronously: the daemon runs in this process, a synchronous child would block it. */
function swanctl(uri: string, cmd: string, ...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      SWANCTL as string,
      [cmd, '--uri', uri, ...args],
      { timeout: 30_000, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

type Tree = { [k: string]: string | string[] | Tree };

/**
 * Parse `swanctl --pretty` output: `<name> event {` / `<name> reply {` blocks, one `key = value`,
 * `key {` or `key = [` per line. Unlike --raw it is unambiguous for values with spaces (DNs).
 */
function parsePretty(text: string): { name: string; kind: string; message: Tree }[] {
  const out: { name: string; kind: string; message: Tree }[] = [];
  const lines = text.split('\n');
  let i = 0;
  const section = (): Tree => {
    const t: Tree = {};
    for (;;) {
      const line = (lines[i++] ?? '').trim();
      if (i > lines.length) throw new Error('unterminated section');
      if (line === '}') return t;
      let m = /^(.*) \{$/.exec(line);
      if (m) {
        t[m[1] as string] = section();
        continue;
      }
      m = /^(.*?) = \[$/.exec(line);
      if (m) {
        const items: string[] = [];
        for (;;) {
          const item = (lines[i++] ?? '').trim();
          if (item === ']') break;
          items.push(item);
        }
        t[m[1] as string] = items;
        continue;
      }
      m = /^(.*?) = (.*)$/.exec(line);
      if (!m) throw new Error(`unexpected line ${i}: ${line}`);
      t[m[1] as string] = m[2] as string;
    }
  };
  while (i < lines.length) {
    const m = /^(\S+) (event|reply) \{$/.exec(lines[i++] ?? '');
    if (m) out.push({ name: m[1] as string, kind: m[2] as string, message: section() });
  }
  return out;
}

/** t[k1][k2]... of a parsed tree; undefined when a step is missing. */
function at(t: unknown, ...keys: string[]): unknown {
  let x = t;
  for (const k of keys) x = typeof x === 'object' && x !== null ? (x as Tree)[k] : undefined;
  return x;
}

/** Our decoded messages as plain objects (sections are null-prototype objects). */
const plain = (x: unknown) => JSON.parse(JSON.stringify(x)) as Tree;

/**
 * The order charon writes the keys of a list-sa IKE SA and CHILD SA in (vici_query.c): 5.9.8's, with
 * the keys of 6.x the synthetic charon's features add where 6.x writes them.
 */
const IKE_ORDER = [
  'uniqueid',
  'version',
  'state',
  'local-host',
  'local-port',
  'local-id',
  'remote-host',
  'remote-port',
  'remote-id',
  'remote-eap-id',
  'initiator',
  'initiator-spi',
  'responder-spi',
  'nat-local',
  'nat-remote',
  'nat-fake',
  'nat-any',
  'if-id-in',
  'if-id-out',
  'encr-alg',
  'encr-keysize',
  'integ-alg',
  'integ-keysize',
  'prf-alg',
  'dh-group',
  'ake1',
  'established',
  'rekey-time',
  'reauth-time',
  'local-vips',
  'remote-vips',
  'child-sas',
];
const CHILD_ORDER = [
  'name',
  'uniqueid',
  'reqid',
  'state',
  'mode',
  'protocol',
  'encap',
  'spi-in',
  'spi-out',
  'mark-in',
  'mark-mask-in',
  'mark-out',
  'mark-mask-out',
  'if-id-in',
  'if-id-out',
  'per-cpu-sas',
  'cpu',
  'encr-alg',
  'encr-keysize',
  'integ-alg',
  'integ-keysize',
  'dh-group',
  'ake1',
  'bytes-in',
  'packets-in',
  'use-in',
  'bytes-out',
  'packets-out',
  'use-out',
  'rekey-time',
  'life-time',
  'install-time',
  'local-ts',
  'remote-ts',
];

function assertOrder(keys: string[], order: string[], where: string): void {
  for (const k of keys) assert.ok(order.includes(k), `${where}: unexpected key ${k}`);
  assert.deepEqual(
    keys,
    order.filter((k) => keys.includes(k)),
    `${where}: keys in charon's order`,
  );
}

/** What one IKE SA must look like at second s, computed from the table record (not from the encoder). */
function expectIke(r: IkeRec, s: number, t: Tree): void {
  const w = `IKE SA ${r.uid}`;
  assert.equal(t.uniqueid, String(r.uid), w);
  assert.equal(t.state, 'ESTABLISHED', w);
  assert.equal(t['remote-host'], r.remoteHost, w);
  assert.equal(t['remote-id'], r.remoteId, w);
  assert.equal(t['initiator-spi'], r.ispi, w);
  assert.equal(t.established, String(r.establishedAgo + s), w);
  assert.equal(t['rekey-time'], String(r.rekeyAt - s), w);
  assertOrder(Object.keys(t), IKE_ORDER, w);
  const children = t['child-sas'] as Tree;
  assert.deepEqual(
    Object.keys(children),
    r.children.map((c) => `${c.name}-${c.uid}`),
    `${w}: child-sas`,
  );
  for (const c of r.children) {
    const ct = children[`${c.name}-${c.uid}`] as Tree;
    const cw = `${w} child ${c.uid}`;
    const bytesIn = c.bytesInBase + c.bytesInRate * s;
    const bytesOut = c.bytesOutBase + c.bytesOutRate * s;
    assert.equal(ct.name, c.name, cw);
    assert.equal(ct['spi-in'], c.spiIn, cw);
    assert.equal(ct['bytes-in'], String(bytesIn), cw);
    assert.equal(ct['packets-in'], String(Math.floor(bytesIn / c.pktSizeIn)), cw);
    assert.equal(ct['bytes-out'], String(bytesOut), cw);
    assert.equal(ct['packets-out'], String(Math.floor(bytesOut / c.pktSizeOut)), cw);
    assert.equal(ct['install-time'], String(c.installAgo + s), cw);
    assert.equal(ct['life-time'], String(c.lifeAt - s), cw);
    assert.deepEqual(ct['local-ts'], c.localTs, cw);
    assert.deepEqual(ct['remote-ts'], c.remoteTs, cw);
    assertOrder(Object.keys(ct), CHILD_ORDER, cw);
  }
}

describe('synthetic charon', { skip: SWANCTL ? false : 'swanctl not installed (strongswan-swanctl)' }, () => {
  let dir: string;
  let d: SyntheticCharon;
  let uri: string;
  let nowMs = Date.UTC(2026, 0, 15, 12, 0, 0);
  let client: ViciClient;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'synthetic-test-'));
    d = await startSyntheticCharon({
      ikeSas: N,
      childrenPerIke: C,
      idleConns: 3,
      socketPath: path.join(dir, 'charon.vici'),
      clock: () => nowMs,
    });
    uri = d.address;
    client = new ViciClient({ address: uri, timeoutMs: 10_000 });
  });
  after(async () => {
    client.close();
    await d.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('swanctl --list-sas --raw parses all 200 IKE SAs, with the generated children and counters', async () => {
    nowMs += 1000;
    const r = await swanctl(uri, '--list-sas', '--raw');
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.split('\n').filter((l) => l !== '');
    assert.equal(lines.filter((l) => l.startsWith('list-sa event {')).length, N);
    assert.equal(lines.at(-1), 'list-sas reply {}');
    const s = d.second();
    assert.equal(s, 1);
    // Unambiguous values straight from the raw lines: conn name, child sections, counters.
    d.table.ikeSas.forEach((rec, i) => {
      const line = lines[i] as string;
      assert.ok(line.startsWith(`list-sa event {${rec.conn} {uniqueid=${rec.uid} `), line.slice(0, 80));
      for (const c of rec.children) {
        const bytesIn = c.bytesInBase + c.bytesInRate * s;
        assert.ok(line.includes(`${c.name}-${c.uid} {name=${c.name} uniqueid=${c.uid} `), `${rec.uid}`);
        assert.ok(line.includes(` bytes-in=${bytesIn} packets-in=${Math.floor(bytesIn / c.pktSizeIn)} `));
      }
    });
    assert.ok(d.table.ikeSas.some((x) => x.children.some((c) => c.bytesInRate > 0)));
  });

  it('swanctl --pretty and our ViciClient show identical listings, as generated and in charon order', async () => {
    const r = await swanctl(uri, '--list-sas', '--pretty');
    assert.equal(r.code, 0, r.stderr);
    const theirs = parsePretty(r.stdout).filter((m) => m.kind === 'event');
    const ours = await client.list('list-sas', undefined, { decode: { text: true } });
    assert.equal(theirs.length, N);
    assert.equal(ours.length, N);
    const s = d.second();
    ours.forEach((m, i) => {
      assert.deepEqual(plain(m), theirs[i]?.message, `event ${i}`);
      const rec = d.table.ikeSas[i] as IkeRec;
      expectIke(rec, s, plain(m)[rec.conn] as Tree);
    });
  });

  it('counters grow with time and the listing is re-rendered', async () => {
    const before = await client.list('list-sas', { ike: 'site-2' }, { decode: { text: true } });
    nowMs += 10_000;
    const later = await client.list('list-sas', { ike: 'site-2' }, { decode: { text: true } });
    const rec = d.table.ikeSas[1] as IkeRec;
    const b = plain(before[0])['site-2'] as Tree;
    const l = plain(later[0])['site-2'] as Tree;
    assert.equal(Number(l.established) - Number(b.established), 10);
    const active = rec.children.find((c) => c.bytesInRate > 0);
    if (active) {
      const key = `${active.name}-${active.uid}`;
      const bi = (t: Tree) => Number(at(t, 'child-sas', key, 'bytes-in'));
      assert.equal(bi(l) - bi(b), 10 * active.bytesInRate);
    }
    expectIke(rec, d.second(), l);
    // Unfiltered listings at the new second are re-rendered, then reused within the second.
    await client.list('list-sas');
    await client.list('list-sas');
    const last = d.listSasTimings().slice(-2);
    assert.deepEqual(
      last.map((x) => x.cached),
      [false, true],
    );
    assert.ok(last.every((x) => x.events === N && x.sendMs > 0));
  });

  it('filters: ike and ike-id', async () => {
    assert.equal((await client.list('list-sas', { ike: 'site-7' })).length, 1);
    assert.equal((await client.list('list-sas', { ike: 'nope' })).length, 0);
    const one = await client.list('list-sas', { 'ike-id': '5' }, { decode: { text: true } });
    assert.equal(at(plain(one[0]), 'site-5', 'uniqueid'), '5');
  });

  it('swanctl --list-conns --raw lists every connection, our client agrees', async () => {
    const r = await swanctl(uri, '--list-conns', '--pretty');
    assert.equal(r.code, 0, r.stderr);
    const theirs = parsePretty(r.stdout).filter((m) => m.kind === 'event');
    assert.equal(theirs.length, N + 3);
    assert.deepEqual(
      theirs.map((m) => Object.keys(m.message)[0]),
      d.table.connNames(),
    );
    const first = theirs[0]?.message['site-1'] as Tree;
    assert.deepEqual(Object.keys(first.children as Tree), ['net1', 'net2']);
    assert.equal((first['local-1'] as Tree).class, 'pre-shared key');
    const ours = await client.list('list-conns', undefined, { decode: { text: true } });
    assert.deepEqual(
      ours.map((m) => plain(m)),
      theirs.map((m) => m.message),
    );
    const raw = await swanctl(uri, '--list-conns', '--raw');
    assert.equal(raw.code, 0);
    assert.equal(raw.stdout.split('\n').filter((l) => l.startsWith('list-conn event {')).length, N + 3);
  });

  it('swanctl --stats, --version, --list-pools parse', async () => {
    const st = await swanctl(uri, '--stats', '--pretty');
    assert.equal(st.code, 0, st.stderr);
    const stats = parsePretty(st.stdout)[0]?.message as Tree;
    assert.equal((stats.ikesas as Tree).total, String(N));
    assert.match((stats.uptime as Tree).since as string, /^[A-Z][a-z]{2} \d\d \d\d:\d\d:\d\d \d{4}$/);
    assert.ok((stats.plugins as string[]).includes('vici'));
    assert.deepEqual(plain(await client.command('stats', undefined, { decode: { text: true } })), stats);
    const human = await swanctl(uri, '--stats');
    assert.match(human.stdout, new RegExp(`IKE_SAs: ${N} total, 0 half-open`));

    const v = await swanctl(uri, '--version', '--daemon', '--raw');
    assert.equal(v.code, 0);
    assert.match(v.stdout, /^version reply \{daemon=charon version=5\.9\.8 sysname=Linux /);

    const pools = await swanctl(uri, '--list-pools', '--leases', '--pretty');
    assert.equal(pools.code, 0, pools.stderr);
    const p = parsePretty(pools.stdout)[0]?.message as Tree;
    assert.deepEqual(Object.keys(p), ['rw-v4', 'rw-v6']);
    assert.equal(at(p, 'rw-v4', 'leases', '0', 'status'), 'online');
    assert.equal(at(p, 'rw-v4', 'leases', '8', 'status'), 'offline');
    const human2 = await swanctl(uri, '--list-pools');
    assert.match(human2.stdout, /rw-v4\s+100\.64\.0\.1\s+7 \/ 2 \/ 1022/);
  });

  it('swanctl --list-certs parses both certificates', async () => {
    assert.equal(d.certs.length, 2);
    const r = await swanctl(uri, '--list-certs');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /List of X\.509 End Entity Certificates/);
    assert.match(r.stdout, /subject: {2}"C=CH, O=Example Corp, CN=vpn1\.example\.net"/);
    assert.match(r.stdout, /List of X\.509 CA Certificates/);
    assert.match(r.stdout, /has private key/);
    const pretty = parsePretty((await swanctl(uri, '--list-certs', '--pretty')).stdout);
    const events = pretty.filter((m) => m.kind === 'event');
    assert.deepEqual(
      events.map((m) => [m.message.flag, m.message.data]),
      d.certs.map((c) => [c.flag, `0x${c.der.toString('hex')}`]),
    );
    const ours = await client.list('list-certs', undefined, {
      decode: { text: true, binaryKeys: new Set(['data']) },
    });
    const der = ours[0]?.data;
    assert.ok(Buffer.isBuffer(der) && der.equals(d.certs[0]?.der as Buffer));
  });

  it('swanctl --counters: global (empty section name), per connection, all, unknown', async () => {
    const g = await swanctl(uri, '--counters', '--raw');
    assert.equal(g.code, 0, g.stderr);
    assert.match(
      g.stdout,
      /^counters reply \{counters \{ \{ike-rekey-init=\d+ .* info-out-resp=\d+\}\} success=yes\}/,
    );
    const human = await swanctl(uri, '--counters');
    assert.match(human.stdout, /^global:\n\s+ike-rekey-init\s+: \d+/);
    const one = await swanctl(uri, '--counters', '--name', 'site-3', '--pretty');
    const m = parsePretty(one.stdout)[0]?.message as Tree;
    assert.equal(Object.keys((m.counters as Tree)['site-3'] as Tree).length, 21);
    const all = await swanctl(uri, '--counters', '--all', '--raw');
    assert.equal(all.code, 0);
    assert.equal((all.stdout.match(/ site-\d+ \{/g) ?? []).length + 1, N + 3); // the first follows "counters {"
    const unknown = await client.command(
      'get-counters',
      { name: 'nope' },
      { checkSuccess: false, decode: { text: true } },
    );
    assert.equal(unknown.success, 'no');
    const ours = await client.command('get-counters', undefined, { decode: { text: true } });
    assert.ok('' in (ours.counters as ViciSection));
  });

  it('swanctl --list-pols lists the shunts', async () => {
    const r = await swanctl(uri, '--list-pols', '--raw', '--pass', '--drop');
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /^list-policy event \{bypass\/lan-bypass \{child=lan-bypass ike=bypass mode=PASS /m,
    );
    assert.match(r.stdout, /^list-policy event \{block\/block-rfc5737 \{.* mode=DROP /m);
  });

  it('events: registration like 5.9 (alert unknown), generated events reach subscribers', async () => {
    const sub = new ViciClient({ address: uri, timeoutMs: 5000 });
    try {
      await assert.rejects(
        sub.subscribe(['alert'], () => {}),
        ViciUnknownEventError,
      );
      const seen: string[] = [];
      await sub.subscribe(['ike-updown', 'child-updown', 'ike-rekey', 'child-rekey'], (name, m) => {
        seen.push(`${name}${m.up === undefined ? '' : ':up'}`);
      });
      const version = d.table.version;
      d.generateEvents(3);
      await new Promise((r) => setTimeout(r, 200));
      assert.ok(d.table.version > version);
      assert.deepEqual(seen, [
        'child-rekey',
        'ike-rekey',
        'ike-updown',
        ...Array(C).fill('child-updown'),
        'ike-updown:up',
        ...Array(C).fill('child-updown:up'),
      ]);
      // The changed SAs show up changed in the next listing; still N IKE SAs.
      const after = await client.list('list-sas', undefined, { decode: { text: true } });
      assert.equal(after.length, N);
      const s = d.second();
      after.forEach((m, i) => {
        const rec = d.table.ikeSas[i] as IkeRec;
        expectIke(rec, s, plain(m)[rec.conn] as Tree);
      });
    } finally {
      sub.close();
    }
  });

  it('faults: silent, close-mid-stream, oversize-drop, then normal again', async () => {
    const c = new ViciClient({ address: uri, timeoutMs: 300 });
    try {
      d.setFaults({ mode: 'silent', commands: ['version'] });
      await assert.rejects(c.command('version'), ViciTimeoutError);
      d.setFaults('close-mid-stream');
      let got = 0;
      await assert.rejects(
        c.stream('list-sas', undefined, () => got++),
        ViciClosedError,
      );
      assert.equal(got, N / 2);
      d.setFaults('oversize-drop');
      assert.equal((await c.list('list-sas')).length, N - 1);
      d.setFaults('none');
      assert.equal((await c.list('list-sas')).length, N);
      const r = await swanctl(uri, '--list-sas', '--raw');
      assert.equal(r.code, 0);
    } finally {
      d.setFaults('none');
      c.close();
    }
  });
});

describe('synthetic charon with strongSwan 6 features', {
  skip: SWANCTL ? false : 'swanctl not installed (strongswan-swanctl)',
}, () => {
  const n = 20;
  let dir: string;
  let d: SyntheticCharon;
  let client: ViciClient;
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'synthetic6-test-'));
    d = await startSyntheticCharon({
      ikeSas: n,
      childrenPerIke: C,
      socketPath: path.join(dir, 'charon.vici'),
      features: { akeEvery: 2, roadWarriorEvery: 3, ifIdsEvery: 4, perCpuEvery: 5, perCpuCpus: 2 },
      daemonVersion: '6.1.0',
      certs: false,
      clock: () => Date.UTC(2026, 0, 15, 12, 0, 0),
    });
    client = new ViciClient({ address: d.address, timeoutMs: 10_000 });
  });
  after(async () => {
    client.close();
    await d.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('lists ake1, EAP ids, virtual IPs, if ids, marks and per-CPU SAs as 6.x does, and swanctl agrees', async () => {
    const r = await swanctl(d.address, '--list-sas', '--pretty');
    assert.equal(r.code, 0, r.stderr);
    const theirs = parsePretty(r.stdout).filter((m) => m.kind === 'event');
    const ours = await client.list('list-sas', undefined, { decode: { text: true } });
    assert.equal(ours.length, n);
    ours.forEach((m, i) => {
      assert.deepEqual(plain(m), theirs[i]?.message, `event ${i}`);
      const rec = d.table.ikeSas[i] as IkeRec;
      expectIke(rec, d.second(), plain(m)[rec.conn] as Tree);
    });
    // IKE SA 0 has every feature; IKE SA 1 none.
    const first = plain(ours[0])['site-1'] as Tree;
    assert.equal(first.ake1, 'ML_KEM_768');
    assert.equal(first['remote-eap-id'], 'user1@example.net');
    assert.equal(first['remote-id'], first['remote-host']);
    assert.deepEqual(first['remote-vips'], ['100.64.0.1']);
    assert.equal(first['if-id-in'], '00000001');
    const net1 = Object.values(first['child-sas'] as Tree).filter(
      (c) => (c as Tree).name === 'net1',
    ) as Tree[];
    assert.deepEqual(
      net1.map((c) => [c['per-cpu-sas'], c.cpu]),
      [
        ['yes', '0'],
        ['yes', '1'],
        ['yes', undefined],
      ],
    );
    assert.equal(new Set(net1.map((c) => c.reqid)).size, 1, 'one reqid for the per-CPU config');
    assert.equal(new Set(net1.map((c) => c.uniqueid)).size, 3, 'a uniqueid per SA');
    assert.equal(net1[0]?.['mark-in'], String(net1[0]?.uniqueid).padStart(8, '0'));
    assert.equal(net1[0]?.['mark-mask-in'], '0000ffff');
    const second = plain(ours[1])['site-2'] as Tree;
    for (const k of ['ake1', 'remote-eap-id', 'remote-vips', 'if-id-in'])
      assert.equal(second[k], undefined, `site-2: no ${k}`);
    const v = await swanctl(d.address, '--version', '--daemon', '--raw');
    assert.match(v.stdout, /version=6\.1\.0 /);
  });
});
