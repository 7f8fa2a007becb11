// Per-CPU SAs (strongSwan 6.0.2+, RFC 9611) through the real scrape path: the exporter's HTTP handler
// with the default collectors (the events subscription included) against the synthetic charon listing
// some child configs with one SA per CPU plus a fallback SA, as charon does (same child name and
// reqid, own uniqueid, section and counters; per-cpu-sas=yes, cpu=N or no cpu for the fallback).
// The per-config families must count every SA of the config once, and every SA keep its own series.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ChildRec, IkeRec } from '../../bench/synthetic/table.js';
import { type SyntheticCharon, startSyntheticCharon } from '../../bench/synthetic-charon.js';
import { select, value } from '../helpers/exposition.js';
import { quietLog } from '../helpers/scrape.js';
import { type Served, serve } from '../helpers/serve.js';
import { assertComplete, bytesAt, packetsAt, type Scrape, scrape } from '../helpers/synthetic-expect.js';

const N = 6;
const CPUS = 3;
/** IKE SAs 0, 2, 4 have per-CPU SAs for net1. */
const PER_CPU_EVERY = 2;

describe('per-CPU SAs of strongSwan 6.0.2+', { timeout: 60_000 }, () => {
  let dir = '';
  let d: SyntheticCharon;
  let served: Served;
  /** The synthetic daemon's clock: its counters move only when the test moves it. */
  let now = Date.UTC(2026, 0, 15, 12, 0, 0);

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'per-cpu-'));
    d = await startSyntheticCharon({
      ikeSas: N,
      childrenPerIke: 2,
      socketPath: path.join(dir, 'charon.vici'),
      features: { perCpuEvery: PER_CPU_EVERY, perCpuCpus: CPUS },
      daemonVersion: '6.1.0',
      certs: false,
      clock: () => now,
    });
    served = await serve(d.address, quietLog);
  });
  after(async () => {
    await served?.close();
    await d?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const perCpuIkes = () => d.table.ikeSas.filter((r) => r.index % PER_CPU_EVERY === 0);
  const net1 = (r: IkeRec) => r.children.filter((c) => c.name === 'net1');

  /** Scrape until the event subscription is up (the clock stands still meanwhile). */
  async function scrapeSubscribed(): Promise<Scrape> {
    for (let k = 0; k < 50; k++) {
      const r = await scrape(served.url);
      if (value(r.p, 'strongswan_exporter_events_connected') === 1) return r;
      await new Promise((res) => setTimeout(res, 100));
    }
    throw new Error('the event subscription never connected');
  }

  it('lists each per-CPU SA and the fallback with series of their own', async () => {
    const r = await scrapeSubscribed();
    // Every CHILD SA of the table (per-CPU ones included) has its own counters, exactly, none more.
    assertComplete(r.p, d, d.second());
    for (const ike of perCpuIkes()) {
      const sas = net1(ike);
      assert.equal(sas.length, CPUS + 1, 'the table has one SA per CPU and a fallback');
      const info = select(r.p, 'strongswan_child_sa_info', {
        conn: ike.conn,
        ike_id: String(ike.uid),
        child: 'net1',
      });
      assert.deepEqual(
        info.map((s) => s.labels.child_id).sort(),
        sas.map((c) => String(c.uid)).sort(),
        `${ike.conn}: one info series per SA`,
      );
      assert.deepEqual(
        info.map((s) => s.labels.cpu).sort(),
        ['0', '1', '2', 'any'],
        `${ike.conn}: the cpu of each SA, any for the fallback`,
      );
      assert.equal(new Set(info.map((s) => s.labels.reqid)).size, 1, 'one reqid for the config');
      assert.equal(value(r.p, 'strongswan_conn_child_up', { conn: ike.conn, child: 'net1' }), 1);
      const net2 = select(r.p, 'strongswan_child_sa_info', { conn: ike.conn, child: 'net2' });
      assert.deepEqual(
        net2.map((s) => s.labels.cpu),
        [''],
      );
    }
  });

  it('adds the traffic of every SA of the config to its totals, across a rekey and a reconnect', async () => {
    const s1 = d.second();
    // At the second of the first listing: a per-CPU SA of site-1 is rekeyed, site-6 rekeys its IKE SA,
    // site-5 reconnects (all its SAs, per-CPU ones included, replaced by new ones).
    const before = new Map(d.table.ikeSas.map((r) => [r.index, r.children.map((c) => c.uid)]));
    d.generateEvents(3);
    const changed = d.table.ikeSas.filter((r) => net1(r).some((c) => !before.get(r.index)?.includes(c.uid)));
    assert.deepEqual(
      changed.map((r) => r.conn),
      ['site-1', 'site-5'],
      'the events replaced per-CPU SAs',
    );
    await new Promise((res) => setTimeout(res, 300));
    now += 30_000;
    const s2 = d.second();
    const r = await scrape(served.url);
    assertComplete(r.p, d, s2);

    // Every SA listed now was listed at s1 or installed at s1 (its counters 0 then): what the exporter
    // saw pass is what each passed from s1 to s2; the SAs replaced at s1 passed nothing since.
    const delta = (c: ChildRec, at: (c: ChildRec, s: number) => { in: number; out: number }) => {
      const a = at(c, s2);
      const b = at(c, s1);
      return { in: a.in - b.in, out: a.out - b.out };
    };
    for (const ike of perCpuIkes()) {
      const sas = net1(ike);
      for (const [family, at] of [
        ['strongswan_conn_child_bytes_total', bytesAt],
        ['strongswan_conn_child_packets_total', packetsAt],
      ] as const) {
        for (const dir of ['in', 'out'] as const) {
          const each = sas.map((c) => delta(c, at)[dir]);
          const sum = each.reduce((x, y) => x + y, 0);
          assert.ok(
            each.slice(1).reduce((x, y) => x + y, 0) > 0,
            `${ike.conn}: per-CPU SAs beyond the first carry traffic (or the test proves nothing)`,
          );
          assert.equal(
            value(r.p, family, { conn: ike.conn, child: 'net1', direction: dir }),
            sum,
            `${ike.conn} ${family} ${dir}: the sum over its ${sas.length} SAs`,
          );
        }
      }
      assert.equal(value(r.p, 'strongswan_conn_child_up', { conn: ike.conn, child: 'net1' }), 1);
    }
  });
});
