// The chunks of a finished scrape are reused by the next one (exposition.ts, ScrapeOutcome.hold):
// never while a response made from them is still being written, whatever the clients do.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import zlib from 'node:zlib';
import { type SyntheticCharon, startSyntheticCharon } from '../../bench/synthetic-charon.js';
import { parseExposition } from '../../test/helpers/exposition.js';
import { type Served, serve } from '../../test/helpers/serve.js';
import { assertComplete } from '../../test/helpers/synthetic-expect.js';
import { createLogger } from '../log.js';
import { STALL_MS } from './shared-text.js';

const N = 2000;
/** The synthetic daemon's clock: its counters change only when a test moves it. */
let now = Date.now();

/** GET /metrics; with `pauseMs`, stop reading after the first chunk for that long (backpressure). */
function get(
  url: string,
  opts: { gzip?: boolean; pauseMs?: number; abortAfterFirst?: boolean; onFirst?: () => void } = {},
): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const req = http.get(
      `${url}/metrics`,
      { headers: opts.gzip ? { 'accept-encoding': 'gzip' } : {}, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        let first = true;
        res.on('data', (c: Buffer) => {
          chunks.push(c);
          if (!first) return;
          first = false;
          opts.onFirst?.();
          if (opts.abortAfterFirst) {
            req.destroy();
            resolve(null);
          } else if (opts.pauseMs !== undefined) {
            res.pause();
            setTimeout(() => res.resume(), opts.pauseMs);
          }
        });
        res.on('end', () => {
          const body = Buffer.concat(chunks);
          resolve(opts.gzip ? zlib.gunzipSync(body) : body);
        });
        res.on('error', (e) => (opts.abortAfterFirst ? resolve(null) : reject(e)));
      },
    );
    req.on('error', (e) => (opts.abortAfterFirst ? resolve(null) : reject(e)));
  });
}

describe('recycled exposition chunks', () => {
  let dir: string;
  let d: SyntheticCharon;
  let served: Served;
  let url: string;
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sswe-recycle-'));
    d = await startSyntheticCharon({
      ikeSas: N,
      childrenPerIke: 2,
      socketPath: path.join(dir, 'charon.vici'),
      clock: () => now,
    });
    served = await serve(
      d.address,
      createLogger('error', 'logfmt', () => {}),
      { timeoutMs: 20_000 },
    );
    url = served.url;
  });
  after(async () => {
    await served.close();
    await d.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** A body as the table was at second `s`: complete, every CHILD SA's counters exact. */
  function exact(body: Buffer | null, s: number): void {
    assert.ok(body !== null);
    assertComplete(parseExposition(body.toString('utf8')), d, s);
  }

  it('reuses the chunks of written-out responses, and never those a slow reader still needs', async () => {
    exact(await get(url), 0); // also warms up: the events subscription, first listings
    // A slow reader holds its scrape (second 0) while scrapes of later seconds come and go, each of
    // them writing different counters into whatever chunks are free.
    // Its first bytes mean its query is over: a scrape after that starts a query of its own (a fixed
    // wait was too short on a slow machine, and the next scrape joined the slow one's query).
    let firstBytes = () => {};
    const started = new Promise<void>((resolve) => {
      firstBytes = resolve;
    });
    const slow = get(url, { pauseMs: 1500, onFirst: () => firstBytes() });
    await started;
    for (let s = 1; s <= 4; s++) {
      now += 1000;
      exact(await get(url, { gzip: s % 2 === 0 }), s);
    }
    assert.ok(served.target.pool.freeChunks > 0, 'chunks were given back for reuse');
    exact(await slow, 0);

    // Plain clients of one query share the text as it is made (shared-text.ts): one that stops
    // reading longer than STALL_MS is left behind with a text of its own, one goes away; every
    // complete body is exact, and the pieces come back to the free list.
    now += 1000;
    const [paused, , ...rest] = await Promise.all([
      get(url, { pauseMs: STALL_MS + 500 }),
      get(url, { abortAfterFirst: true }),
      get(url),
      get(url),
    ]);
    for (const body of [paused, ...rest]) exact(body, 5);
    exact(await get(url), 5);
    // (how many stay free depends on what the pool trims after each scrape; some always do)
    assert.ok(served.target.pool.freeChunks > 0, 'pieces given back');

    // Clients that go away mid-response: those scrapes are never recycled, the others stay exact.
    for (let s = 6; s <= 8; s++) {
      now += 1000;
      const [, a, b] = await Promise.all([
        get(url, { abortAfterFirst: true }),
        get(url),
        get(url, { gzip: true }),
      ]);
      exact(a, s);
      exact(b, s);
      exact(await get(url), s);
    }
  });
});
