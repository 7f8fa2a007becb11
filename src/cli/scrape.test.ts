import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
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
  it('ends quietly when its reader is gone, however many writes fail', async () => {
    const out = new GoneReader();
    const code = await runScrapeOnce(
      ['--vici.address', 'unix:///nonexistent/charon.vici', '--vici.timeout', '1s', '--log.level', 'error'],
      COLLECTORS,
      out as unknown as NodeJS.WritableStream,
    );
    assert.equal(code, 1, 'charon away');
    await sleep(20); // the failures of the later writes come after the run has ended
    assert.ok(out.writes > 1, `${out.writes} writes`);
  });
});
