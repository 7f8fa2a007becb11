// Issue 7, fault injection: the real exporter binary (a child process, --vici.timeout 2s) against the
// synthetic charon (in this process) misbehaving in one way per test. For every fault: the exporter stays
// up, /metrics answers 200 within the VICI timeout plus a second with strongswan_up 0 or the failing
// collectors' success at 0, exactly one `scrape:` log line names the fault (and lists exactly the
// collectors that show 0), nothing unhandled or a stack trace is printed, and once the daemon behaves
// again the next scrape is complete and correct (every CHILD SA's counters as the table says) and the
// event subscription is connected.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { IkeRec } from '../../bench/synthetic/table.js';
import {
  BIG_VALUE,
  type FaultSpec,
  type SyntheticCharon,
  startSyntheticCharon,
} from '../../bench/synthetic-charon.js';
import { select, value } from '../helpers/exposition.js';
import { type Child, startExporter } from '../helpers/processes.js';
import {
  assertComplete,
  failedCollectors,
  LIVE_COLLECTORS,
  type Scrape,
  scrape,
} from '../helpers/synthetic-expect.js';

const N = 200;
const C = 2;
const TIMEOUT_MS = 2000;
/** What every answer must come within. */
const ANSWER_MS = TIMEOUT_MS + 1000;
const CRASH = /unhandled|uncaught|internal error|^\s+at /im;

describe('fault injection: the exporter binary against a misbehaving synthetic charon', {
  timeout: 180_000,
}, () => {
  let dir: string;
  let d: SyntheticCharon;
  let exporter: Child & { url: string };
  /** The daemon's clock, frozen: counters move only when a test moves it. */
  let nowMs = Date.UTC(2026, 0, 15, 12, 0, 0);
  /** The daemon's second of the first scrape: the traffic per child config counts from there. */
  let firstSecond: number | undefined;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'faults-test-'));
    d = await startSyntheticCharon({
      ikeSas: N,
      childrenPerIke: C,
      socketPath: path.join(dir, 'charon.vici'),
      clock: () => nowMs,
    });
    exporter = await startExporter(['--vici.address', d.address, '--vici.timeout', `${TIMEOUT_MS / 1000}s`]);
    await expectHealthy('at start');
  });
  after(async () => {
    await exporter?.stop();
    await d?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  /** The exporter's `scrape:` log lines since output offset `mark`. */
  const scrapeLines = (mark: number) =>
    exporter.output
      .slice(mark)
      .split('\n')
      .filter((l) => l.includes('msg="scrape:'));

  /** Wait (bounded) until `n` scrape lines arrived since `mark`, then a little longer for extra ones. */
  async function linesSince(mark: number, n: number): Promise<string[]> {
    const end = Date.now() + 3000;
    while (scrapeLines(mark).length < n && Date.now() < end) await sleep(20);
    await sleep(150);
    return scrapeLines(mark);
  }

  function assertAlive(mark: number): void {
    assert.equal(exporter.proc.exitCode, null, 'the exporter is still running');
    assert.equal(exporter.proc.signalCode, null, 'the exporter is still running');
    assert.doesNotMatch(exporter.output.slice(mark), CRASH, 'nothing unhandled, no stack trace');
  }

  /** One failed scrape: its answer, its gauges, its one log line. Returns the scrape. */
  async function expectFailedScrape(mark: number, log: RegExp, up: 0 | 1, r?: Scrape): Promise<Scrape> {
    r ??= await scrape(exporter.url);
    assert.equal(r.status, 200);
    assert.ok(r.ms < ANSWER_MS, `answered in ${r.ms} ms (bound ${ANSWER_MS})`);
    assert.equal(value(r.p, 'strongswan_up'), up, 'strongswan_up');
    const failed = failedCollectors(r.p);
    const lines = await linesSince(mark, 1);
    assert.equal(lines.length, 1, `exactly one scrape line:\n${lines.join('\n')}`);
    const line = lines[0] as string;
    assert.match(line, log);
    if (up === 0) {
      assert.deepEqual(failed, [...LIVE_COLLECTORS].sort(), 'every live collector at 0');
      assert.equal(value(r.p, 'strongswan_exporter_collector_success', { collector: 'events' }), 1);
      assert.equal(value(r.p, 'strongswan_number_of_ikes_connected'), 0);
      assert.match(line, /msg="scrape: daemon unreachable"/);
    } else {
      assert.ok(failed.length > 0, 'some collector at 0');
      assert.match(line, /msg="scrape: collectors failed"/);
      // The line names exactly the collectors that show 0.
      assert.equal(/ collectors=(\S+)/.exec(line)?.[1], failed.join(','), line);
    }
    assert.match(line, /level=warn/);
    assertAlive(mark);
    return r;
  }

  /**
   * The daemon behaves: the next scrape is complete and correct (counters at a new second), no scrape
   * line is logged, and the event subscription is connected again.
   */
  async function expectHealthy(when: string): Promise<Scrape> {
    nowMs += 1000;
    const mark = exporter.output.length;
    firstSecond ??= d.second();
    const r = await scrape(exporter.url);
    assert.equal(r.status, 200, when);
    assert.ok(r.ms < ANSWER_MS, `${when}: answered in ${r.ms} ms`);
    assertComplete(r.p, d, d.second(), { perConfigTotals: { from: firstSecond } });
    // The event subscription is connected in this very scrape: one that lost its connection reconnects
    // as soon as a scrape reaches the daemon, instead of waiting out its backoff.
    assert.equal(value(r.p, 'strongswan_exporter_events_connected'), 1, `${when}: events connected`);
    assert.deepEqual(await linesSince(mark, 0), [], `${when}: no scrape line`);
    assertAlive(mark);
    return r;
  }

  /** Inject `spec`, expect one failed scrape, then behave and expect a complete one. */
  async function fault(spec: FaultSpec, up: 0 | 1, log: RegExp, mustFail: string[] = []): Promise<Scrape> {
    const mark = exporter.output.length;
    d.setFaults(spec);
    let r: Scrape;
    try {
      r = await expectFailedScrape(mark, log, up);
      for (const c of mustFail) assert.ok(failedCollectors(r.p).includes(c), `${c} at 0`);
    } finally {
      d.setFaults('none');
    }
    await expectHealthy(`after ${spec.mode} ${spec.commands?.join(',') ?? ''}`);
    return r;
  }

  const SA_WALKERS = ['conns', 'events', 'sas', 'seed'];

  it('random bytes instead of a reply', async () => {
    const junk =
      /err="(frame length \d+ outside 1\.\.524288|unknown packet type \d+|malformed message[^"]*) \[VICI_PROTOCOL\]"/;
    await fault({ mode: 'garbage' }, 0, junk);
    await fault({ mode: 'garbage', commands: ['list-sas'] }, 1, junk, SA_WALKERS);
  });

  it('a frame header announcing 2 GiB', async () => {
    const log = /err="frame length 2147483648 outside 1\.\.524288 \[VICI_PROTOCOL\]"/;
    await fault({ mode: 'huge-header' }, 0, log);
    await fault({ mode: 'huge-header', commands: ['stats'] }, 1, log, ['stats']);
  });

  it('the connection closed in the middle of a list-sas stream', async () => {
    const before = d.listSasTimings().length;
    await fault(
      { mode: 'close-mid-stream', commands: ['list-sas'] },
      1,
      /connection closed by the daemon \[VICI_CLOSED\]/,
      SA_WALKERS,
    );
    // It did stop in the middle: half the IKE SAs were sent, then the connection was closed.
    const mid = d
      .listSasTimings()
      .slice(before)
      .find((l) => l.fault === 'close-mid-stream');
    assert.equal(mid?.events, N / 2);
  });

  it('no answer at all', async () => {
    await fault({ mode: 'silent' }, 0, /err="version: no reply within 2000 ms \(unix:\/\/[^)]+\)"/);
    await fault(
      { mode: 'silent', commands: ['list-sas'] },
      1,
      /err="list-sas: no reply within (19\d\d|2000) ms /,
      SA_WALKERS,
    );
  });

  it('slow answers: slower than the timeout fails in time, slower but within it is complete', async () => {
    await fault({ mode: 'slow', delayMs: TIMEOUT_MS + 1500 }, 0, /err="version: no reply within 2000 ms /);

    // Every command 100 ms late: the scrape takes longer, and is complete.
    const delayMs = 100;
    const mark = exporter.output.length;
    const requests = () => Object.values(d.stats.requests).reduce((a, b) => a + b, 0);
    const before = requests();
    nowMs += 1000;
    d.setFaults({ mode: 'slow', delayMs });
    let r: Scrape;
    try {
      r = await scrape(exporter.url);
    } finally {
      d.setFaults('none');
    }
    const commands = requests() - before;
    assert.ok(commands >= 8, `${commands} commands in a scrape`);
    assert.equal(r.status, 200);
    assert.ok(r.ms >= commands * delayMs, `took ${r.ms} ms for ${commands} commands ${delayMs} ms late each`);
    assert.ok(r.ms < TIMEOUT_MS, `within the timeout: ${r.ms} ms`);
    assertComplete(r.p, d, d.second(), { perConfigTotals: { from: firstSecond as number } });
    assert.deepEqual(await linesSince(mark, 0), []);
    assertAlive(mark);
  });

  it('unbalanced sections: a malformed message in a well-formed frame', async () => {
    await fault(
      { mode: 'unbalanced' },
      0,
      /err="malformed message: 1 section\(s\) not closed at offset \d+ \[VICI_PROTOCOL\]"/,
    );
    await fault(
      { mode: 'unbalanced', commands: ['list-sas'] },
      1,
      /err="malformed message: section end at root level at offset \d+ \[VICI_PROTOCOL\]"/,
      SA_WALKERS,
    );
  });

  it('a 64 KiB value (65,535 bytes, valid): handled, nothing lost', async () => {
    assert.equal(Buffer.byteLength(BIG_VALUE), 65_535);
    nowMs += 1000;
    const mark = exporter.output.length;
    d.setFaults({ mode: 'big-value' });
    let r: Scrape;
    try {
      r = await scrape(exporter.url);
    } finally {
      d.setFaults('none');
    }
    assert.equal(r.status, 200);
    // Complete and correct, as if nothing happened ...
    assertComplete(r.p, d, d.second(), { perConfigTotals: { from: firstSecond as number } });
    // ... and the big values arrive whole, byte for byte.
    const info = select(r.p, 'strongswan_info');
    assert.equal(info.length, 1);
    assert.equal(info[0]?.labels.release, BIG_VALUE);
    const first = d.table.ikeSas[0] as IkeRec;
    const ike = select(r.p, 'strongswan_ike_sa_info', { conn: first.conn, ike_id: String(first.uid) });
    assert.equal(ike.length, 1);
    assert.equal(ike[0]?.labels.remote_id, BIG_VALUE);
    const others = select(r.p, 'strongswan_ike_sa_info').filter((x) => x.labels.remote_id === BIG_VALUE);
    assert.equal(others.length, 1, 'only the first IKE SA has it');
    const rec = d.listSasTimings().at(-1);
    assert.equal(rec?.fault, 'big-value');
    assert.ok((rec?.bytes ?? 0) > 65_535);
    assert.deepEqual(await linesSince(mark, 0), []);
    assertAlive(mark);
    await expectHealthy('after big-value');
  });

  it('a daemon that accepts and drops connections every few seconds', async () => {
    const mark = exporter.output.length;
    const intervalMs = 2000;
    d.setFaults({ mode: 'flap', intervalMs, downMs: intervalMs / 2 });
    let failed = 0;
    let complete = 0;
    let eventsDown = 0;
    try {
      // Dropped at once: the first scrape fails.
      const closed =
        /err="unix:\/\/[^"]+: (connection closed by the daemon \[VICI_CLOSED\]|connection error: (ECONNRESET|EPIPE) \[VICI_CLOSED\])"/;
      await expectFailedScrape(mark, closed, 0);
      failed++;
      // Then scrape for three periods: every answer in time, each either complete or failed with one line.
      const end = Date.now() + 3 * intervalMs;
      while (Date.now() < end) {
        const m = exporter.output.length;
        const second = d.second();
        const r = await scrape(exporter.url);
        assert.equal(r.status, 200);
        assert.ok(r.ms < ANSWER_MS, `answered in ${r.ms} ms`);
        if (select(r.p, 'strongswan_exporter_events_connected')[0]?.value === 0) eventsDown++;
        if (failedCollectors(r.p).length === 0) {
          assertComplete(r.p, d, second);
          assert.deepEqual(await linesSince(m, 0), [], 'a complete scrape logs nothing');
          complete++;
        } else {
          await expectFailedScrape(m, closed, value(r.p, 'strongswan_up') as 0 | 1, r);
          failed++;
        }
        await sleep(50);
      }
    } finally {
      d.setFaults('none');
    }
    assert.ok(failed >= 2, `${failed} failed scrapes`);
    assert.ok(complete >= 1, `${complete} complete scrapes`);
    assert.ok(eventsDown >= 1, 'the event subscription was seen down');
    assert.match(exporter.output.slice(mark), /msg="events: subscription lost, reconnecting"/);
    await expectHealthy('after flapping');
    assert.match(exporter.output.slice(mark), /msg="events: reconnected"/);
  });

  it('a reply over 512 KiB that the daemon silently drops', async () => {
    // A command's reply: never comes; the call times out and the collectors waiting behind it fail with it.
    await fault(
      { mode: 'oversize-drop', commands: ['get-counters'] },
      1,
      /err="get-counters: no reply within (19\d\d|2000) ms /,
      ['counters'],
    );
    // A list-sa event: lost without a trace (charon says nothing); the exporter cannot know, and says N-1.
    nowMs += 1000;
    d.setFaults({ mode: 'oversize-drop', commands: ['list-sas'] });
    let r: Scrape;
    try {
      r = await scrape(exporter.url);
    } finally {
      d.setFaults('none');
    }
    assert.equal(value(r.p, 'strongswan_number_of_ikes_connected'), N - 1);
    assert.deepEqual(failedCollectors(r.p), []);
    await expectHealthy('after a dropped list-sa event');
  });
});
