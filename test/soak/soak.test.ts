// Issue 7, long run: the exporter binary scraped back to back against the synthetic charon with a
// changing table (rekeys and reconnects with ike/child-updown and rekey events flowing, counters that
// grow with the real clock). RSS, heap and open file descriptors stay flat; every cumulative counter
// never goes backwards; every scrape is complete. The suite runs a short form (SOAK_SCRAPES, default
// 300, and at most SOAK_MAX_SECONDS, default 40); `npm run soak` runs 10,000 scrapes. The figures are
// printed as test diagnostics (`# soak: ...`).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type SyntheticCharon, startSyntheticCharon } from '../../bench/synthetic-charon.js';
import { type Parsed, select, value } from '../helpers/exposition.js';
import { type Child, startExporter } from '../helpers/processes.js';
import { failedCollectors, scrape } from '../helpers/synthetic-expect.js';

const SCRAPES = Number(process.env.SOAK_SCRAPES ?? 300);
const MAX_SECONDS = Number(process.env.SOAK_MAX_SECONDS ?? (SCRAPES <= 300 ? 40 : SCRAPES / 5));
const N = 100;
const C = 2;
const EVENT_RATE = 20;

/** Cumulative families checked for going backwards, per series. */
const COUNTERS = [
  'strongswan_conn_child_bytes_total',
  'strongswan_conn_child_packets_total',
  'strongswan_ike_sa_events_total',
  'strongswan_child_sa_events_total',
  'strongswan_ike_messages_total',
  'strongswan_child_sa_bytes_total',
  'strongswan_child_sa_packets_total',
];

/** The families the soak reads (parsing only these keeps the test's side of a scrape cheap). */
const KEEP = new Set([
  ...COUNTERS,
  'strongswan_up',
  'strongswan_exporter_collector_success',
  'strongswan_number_of_ikes_connected',
  'strongswan_exporter_events_connected',
  'nodejs_heap_size_used_bytes',
  'process_open_fds',
]);

interface Sample {
  rss: number;
  heap: number;
  fds: number;
  procFds: number;
}

const MiB = 1024 * 1024;
const mib = (b: number) => `${(b / MiB).toFixed(1)} MiB`;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

function rssOf(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  assert.ok(m, 'VmRSS in /proc/PID/status');
  return Number(m[1]) * 1024;
}

function seriesKey(name: string, labels: Record<string, string>): string {
  return `${name}{${Object.keys(labels)
    .sort()
    .map((k) => `${k}=${labels[k]}`)
    .join(',')}}`;
}

/** Sum of one family's samples by some labels. */
function sumBy(p: Parsed, name: string, keys: string[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of select(p, name)) {
    const k = keys.map((x) => s.labels[x]).join('|');
    out.set(k, (out.get(k) ?? 0) + s.value);
  }
  return out;
}

describe('soak: back-to-back scrapes of a changing table', { timeout: (MAX_SECONDS + 60) * 1000 }, () => {
  let dir: string;
  let d: SyntheticCharon;
  let exporter: Child & { url: string };

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'soak-test-'));
    d = await startSyntheticCharon({
      ikeSas: N,
      childrenPerIke: C,
      socketPath: path.join(dir, 'charon.vici'),
      eventRate: EVENT_RATE,
    });
    exporter = await startExporter(['--vici.address', d.address, '--vici.timeout', '2s']);
  });
  after(async () => {
    await exporter?.stop();
    await d?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it(`${SCRAPES} scrapes: memory and descriptors flat, counters never backwards, every scrape complete`, async (t) => {
    const pid = exporter.proc.pid as number;
    const last = new Map<string, number>();
    const firstSeen = new Map<string, number>();
    const samples: Sample[] = [];
    const first = { events: 0, bytes: 0 };
    let events = 0;
    let bytes = 0;
    let checkedSeries = 0;
    const t0 = Date.now();
    const deadline = t0 + MAX_SECONDS * 1000;
    let n = 0;
    while (n < SCRAPES && Date.now() < deadline) {
      const r = await scrape(exporter.url, 15_000, KEEP);
      n++;
      const where = `scrape ${n}`;
      assert.equal(r.status, 200, where);
      assert.equal(value(r.p, 'strongswan_up'), 1, where);
      assert.deepEqual(failedCollectors(r.p), [], where);
      assert.equal(value(r.p, 'strongswan_number_of_ikes_connected'), N, where);
      assert.equal(value(r.p, 'strongswan_exporter_events_connected'), 1, where);

      for (const name of COUNTERS) {
        for (const s of select(r.p, name)) {
          const k = seriesKey(name, s.labels);
          const prev = last.get(k);
          if (prev !== undefined) {
            assert.ok(s.value >= prev, `${where}: ${k} went backwards: ${prev} -> ${s.value}`);
            checkedSeries++;
          }
          last.set(k, s.value);
        }
      }
      // Traffic per child config is at least what its live CHILD SAs carried since this test first
      // saw them (the exporter counts an SA from its own first sight, which is no later).
      const live = new Map<string, number>();
      for (const x of select(r.p, 'strongswan_child_sa_bytes_total')) {
        const sa = seriesKey('sa', x.labels);
        if (!firstSeen.has(sa)) firstSeen.set(sa, x.value);
        const k = [x.labels.conn, x.labels.child, x.labels.direction].join('|');
        live.set(k, (live.get(k) ?? 0) + x.value - (firstSeen.get(sa) as number));
      }
      const totals = sumBy(r.p, 'strongswan_conn_child_bytes_total', ['conn', 'child', 'direction']);
      for (const [k, v] of live)
        assert.ok((totals.get(k) ?? 0) >= v, `${where}: conn total ${k} ${totals.get(k)} < live ${v}`);

      events = [
        ...select(r.p, 'strongswan_ike_sa_events_total'),
        ...select(r.p, 'strongswan_child_sa_events_total'),
      ].reduce((a, s) => a + s.value, 0);
      bytes = [...totals.values()].reduce((a, b) => a + b, 0);
      if (n === 1) Object.assign(first, { events, bytes });

      samples.push({
        rss: rssOf(pid),
        heap: value(r.p, 'nodejs_heap_size_used_bytes'),
        fds: value(r.p, 'process_open_fds'),
        procFds: fs.readdirSync(`/proc/${pid}/fd`).length,
      });
    }
    const seconds = (Date.now() - t0) / 1000;
    assert.ok(n >= Math.min(SCRAPES, 100), `${n} scrapes in ${seconds.toFixed(1)} s`);
    assert.equal(exporter.proc.exitCode, null, 'the exporter is still running');
    assert.doesNotMatch(exporter.output, /unhandled|uncaught|internal error|^\s+at /im);

    const q = Math.max(1, Math.floor(samples.length / 4));
    const head = samples.slice(0, q);
    const tail = samples.slice(-q);
    const fig = (f: keyof Sample) => ({
      first: median(head.map((s) => s[f])),
      last: median(tail.map((s) => s[f])),
    });
    const rss = fig('rss');
    const heap = fig('heap');
    const fds = fig('fds');
    const procFds = fig('procFds');
    const quarters = (f: 'rss' | 'heap') =>
      [0, 1, 2, 3]
        .map((i) =>
          mib(median(samples.slice(i * q, i === 3 ? samples.length : (i + 1) * q).map((s) => s[f]))),
        )
        .join(' / ');
    const report = {
      scrapes: n,
      seconds: Number(seconds.toFixed(1)),
      scrapesPerSecond: Number((n / seconds).toFixed(1)),
      rss: `${mib(samples[0]?.rss ?? 0)} -> ${mib(samples.at(-1)?.rss ?? 0)} (quarter medians ${quarters('rss')}, max ${mib(Math.max(...samples.map((s) => s.rss)))})`,
      heap: `${mib(samples[0]?.heap ?? 0)} -> ${mib(samples.at(-1)?.heap ?? 0)} (quarter medians ${quarters('heap')})`,
      fds: `${samples[0]?.fds} -> ${samples.at(-1)?.fds} (/proc: ${samples[0]?.procFds} -> ${samples.at(-1)?.procFds}, max ${Math.max(...samples.map((s) => s.procFds))})`,
      events: `${first.events} -> ${events} (daemon sent ${d.stats.eventsSent}, ${d.stats.tableChanges} table changes)`,
      confBytes: `${first.bytes} -> ${bytes}`,
      seriesChecked: checkedSeries,
    };
    for (const [k, v] of Object.entries(report)) t.diagnostic(`soak: ${k}: ${v}`);

    // The table changed and the events were counted.
    assert.ok(d.stats.tableChanges > 0 && d.stats.eventsSent > 0, 'the table changed, events were sent');
    assert.ok(events > first.events, 'events were counted');
    assert.ok(bytes > first.bytes, 'traffic grew');
    // Flat: the last quarter against the first, generously.
    assert.ok(rss.last <= rss.first * 1.3 + 16 * MiB, `RSS ${report.rss}`);
    assert.ok(heap.last <= heap.first * 1.5 + 8 * MiB, `heap ${report.heap}`);
    assert.ok(fds.last <= fds.first + 5, `fds ${report.fds}`);
    assert.ok(procFds.last <= procFds.first + 5, `fds ${report.fds}`);
  });
});
