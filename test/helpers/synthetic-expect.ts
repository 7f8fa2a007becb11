// What a complete and correct scrape of the synthetic charon (bench/synthetic-charon.ts) looks like,
// computed from its table (not from the encoder): for the fault and soak tests, which run the real
// exporter binary against it.
import assert from 'node:assert/strict';
import type { ChildRec, IkeRec } from '../../bench/synthetic/table.js';
import type { SyntheticCharon } from '../../bench/synthetic-charon.js';
import { COLLECTORS } from '../../src/collectors/registry.js';
import { type Parsed, parseExposition, select, value } from './exposition.js';

/** The collectors the exporter runs without --collector flags, in registry order. */
export const DEFAULT_COLLECTORS = COLLECTORS.filter((c) => c.defaultEnabled).map((c) => c.name);
/** Those that need the daemon in the scrape (all but `events`). */
export const LIVE_COLLECTORS = COLLECTORS.filter((c) => c.defaultEnabled && c.live !== false).map(
  (c) => c.name,
);

export interface Scrape {
  status: number;
  ms: number;
  text: string;
  p: Parsed;
}

/**
 * GET /metrics, bounded (a hang fails the test instead of stalling it), parsed strictly; with `only`,
 * just the samples of those families are parsed.
 */
export async function scrape(url: string, boundMs = 15_000, only?: ReadonlySet<string>): Promise<Scrape> {
  const t0 = Date.now();
  const r = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(boundMs) });
  const text = await r.text();
  const ms = Date.now() - t0;
  const kept =
    only === undefined
      ? text
      : text
          .split('\n')
          .filter((l) => l !== '' && l[0] !== '#' && only.has(/^[^{ ]+/.exec(l)?.[0] ?? ''))
          .join('\n');
  return { status: r.status, ms, text, p: parseExposition(kept) };
}

/** Collectors whose strongswan_exporter_collector_success is 0, sorted by name. */
export function failedCollectors(p: Parsed): string[] {
  return select(p, 'strongswan_exporter_collector_success')
    .filter((s) => s.value !== 1)
    .map((s) => s.labels.collector as string)
    .sort();
}

export function bytesAt(c: ChildRec, s: number): { in: number; out: number } {
  return { in: c.bytesInBase + c.bytesInRate * s, out: c.bytesOutBase + c.bytesOutRate * s };
}

export function packetsAt(c: ChildRec, s: number): { in: number; out: number } {
  const b = bytesAt(c, s);
  return { in: Math.floor(b.in / c.pktSizeIn), out: Math.floor(b.out / c.pktSizeOut) };
}

/**
 * A complete scrape: up, every default collector successful, N IKE SAs, and every CHILD SA's bytes and
 * packets (both directions) exactly what the table says at second `s` (the clock must not move during
 * the scrape). With `perConfigTotals: { from }`, strongswan_conn_child_bytes_total of every child
 * config equals what its one live CHILD SA passed since second `from`, when the exporter first saw it
 * (the SAs are older than the exporter, so what they had then is not its to count; true while no SA
 * was rekeyed or reconnected since the exporter started).
 */
export function assertComplete(
  p: Parsed,
  d: SyntheticCharon,
  s: number,
  opts: { perConfigTotals?: { from: number } } = {},
): void {
  assert.equal(value(p, 'strongswan_up'), 1, 'strongswan_up');
  const success = select(p, 'strongswan_exporter_collector_success');
  assert.deepEqual(
    success.map((x) => x.labels.collector),
    DEFAULT_COLLECTORS,
    'one success gauge per default collector',
  );
  assert.deepEqual(failedCollectors(p), [], 'every collector succeeded');
  const n = d.table.ikeSas.length;
  assert.equal(value(p, 'strongswan_number_of_ikes_connected'), n, 'strongswan_number_of_ikes_connected');

  const got = new Map<string, number>();
  for (const f of ['strongswan_child_sa_bytes_total', 'strongswan_child_sa_packets_total'])
    for (const x of select(p, f)) {
      const l = x.labels;
      got.set(`${f}|${l.conn}|${l.ike_id}|${l.child}|${l.child_id}|${l.direction}`, x.value);
    }
  let children = 0;
  for (const r of d.table.ikeSas as IkeRec[]) {
    for (const c of r.children) {
      children++;
      const b = bytesAt(c, s);
      const k = packetsAt(c, s);
      const key = (f: string, dir: string) => `${f}|${r.conn}|${r.uid}|${c.name}|${c.uid}|${dir}`;
      const where = `${r.conn} CHILD SA ${c.uid} at second ${s}`;
      assert.equal(got.get(key('strongswan_child_sa_bytes_total', 'in')), b.in, `${where}: bytes in`);
      assert.equal(got.get(key('strongswan_child_sa_bytes_total', 'out')), b.out, `${where}: bytes out`);
      assert.equal(got.get(key('strongswan_child_sa_packets_total', 'in')), k.in, `${where}: packets in`);
      assert.equal(got.get(key('strongswan_child_sa_packets_total', 'out')), k.out, `${where}: packets out`);
      if (opts.perConfigTotals) {
        const l = { conn: r.conn, child: c.name };
        const b0 = bytesAt(c, opts.perConfigTotals.from);
        assert.equal(
          value(p, 'strongswan_conn_child_bytes_total', { ...l, direction: 'in' }),
          b.in - b0.in,
          where,
        );
        assert.equal(
          value(p, 'strongswan_conn_child_bytes_total', { ...l, direction: 'out' }),
          b.out - b0.out,
          where,
        );
      }
    }
  }
  assert.equal(got.size, children * 4, 'no CHILD SA series beyond the table');
}
