import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startSyntheticCharon } from '../../bench/synthetic-charon.js';
import { COLLECTORS } from '../collectors/registry.js';
import { runScrapeOnce } from './scrape.js';

/** Standard output whose reader went away: every write fails with EPIPE, each in an event of its own. */
class GoneReader extends EventEmitter {
  writes = 0;
  write(_chunk: unknown, cb?: unknown): boolean {
    this.writes++;
    setImmediate(() => {
      this.emit('error', Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
      if (typeof cb === 'function') cb(new Error('write EPIPE'));
    });
    return false;
  }
}

describe('scrape: standard output', () => {
  it('ends quietly when its reader is gone, and writes no more', async () => {
    const out = new GoneReader();
    const code = await runScrapeOnce(
      ['--vici.address', 'unix:///nonexistent/charon.vici', '--vici.timeout', '1s', '--log.level', 'error'],
      COLLECTORS,
      out as unknown as NodeJS.WritableStream,
    );
    assert.equal(code, 1, 'charon away');
    await sleep(20); // a failure that comes after the run has ended is not thrown either
    assert.equal(out.writes, 1, 'one write, then its failure');
  });
});

describe('scrape: a large exposition', () => {
  it('is written piece by piece as a slow reader drains, whole, to a stream and to a file', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'scrape-'));
    const now = 1_800_000_000_000;
    const charon = await startSyntheticCharon({
      ikeSas: 1000,
      childrenPerIke: 2,
      socketPath: path.join(dir, 'charon.vici'),
      clock: () => now,
    });
    try {
      const args = ['--vici.address', charon.address, '--log.level', 'error', '--no-collector.certs'];
      let drains = 0;
      const got: Buffer[] = [];
      const slow = new Writable({
        highWaterMark: 64 * 1024,
        write(chunk: Buffer, _enc, cb) {
          got.push(Buffer.from(chunk));
          setImmediate(cb);
        },
      });
      slow.on('drain', () => drains++);
      assert.equal(await runScrapeOnce(args, COLLECTORS, slow), 0);
      const file = path.join(dir, 'out.prom');
      assert.equal(await runScrapeOnce([...args, '--output', file], COLLECTORS), 0);
      // The same text but for the exporter's own timings and times made from its clock.
      const samples = (t: string) =>
        t
          .split('\n')
          .filter(
            (l) =>
              !/^strongswan_(exporter|collector|scrape)_|^process_|^nodejs_|_timestamp_seconds\{/.test(l),
          );
      const streamed = Buffer.concat(got).toString('utf8');
      assert.ok(streamed.length > 1_000_000, `${streamed.length} bytes`);
      assert.ok(drains > 10, `${drains} drains: the writes waited for the reader`);
      assert.ok(streamed.endsWith('\n'));
      assert.deepEqual(samples(streamed), samples(fs.readFileSync(file, 'utf8')));
      assert.equal(streamed.match(/^strongswan_ike_sa_info\{/gm)?.length, 1000);
    } finally {
      await charon.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
