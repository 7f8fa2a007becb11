// A big scrape is followed by one full garbage collection once every response made from it is written
// out (target.ts, GC_AFTER_SAMPLES); a small one is not.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type SyntheticCharon, startSyntheticCharon } from '../../bench/synthetic-charon.js';
import { type Served, serve } from '../../test/helpers/serve.js';
import { createLogger } from '../log.js';
import { GC_AFTER_SAMPLES } from './target.js';

const log = createLogger('error', 'logfmt', () => {});

/** A scrape by a gzip client (fetch asks for gzip), or by a plain one. */
async function get(url: string, encoding = 'gzip'): Promise<number> {
  const r = await fetch(`${url}/metrics`, { headers: { 'accept-encoding': encoding } });
  assert.equal(r.headers.get('content-encoding') ?? 'identity', encoding);
  const body = await r.text();
  assert.equal(r.status, 200);
  return body.split('\n').filter((l) => l !== '' && !l.startsWith('#')).length;
}

/** Until `count` has not changed for 200 ms: the responses are written out and what follows has run. */
async function settle(count: () => number): Promise<void> {
  let last = count();
  for (let quiet = 0, i = 0; quiet < 10 && i < 500; i++) {
    await sleep(20);
    quiet = count() === last ? quiet + 1 : 0;
    last = count();
  }
}

describe('full garbage collection after a big scrape', () => {
  let dir: string;
  const daemons: SyntheticCharon[] = [];
  const served: Served[] = [];
  let big: Served;
  let small: Served;
  const calls = { big: 0, small: 0 };
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sswe-gc-'));
    for (const [n, name] of [
      [2000, 'big'],
      [50, 'small'],
    ] as const) {
      const d = await startSyntheticCharon({
        ikeSas: n,
        childrenPerIke: 2,
        socketPath: path.join(dir, `${name}.vici`),
      });
      daemons.push(d);
      const s = await serve(d.address, log, {
        timeoutMs: 20_000,
        collectGarbage: () => {
          calls[name]++;
        },
      });
      served.push(s);
      if (name === 'big') big = s;
      else small = s;
    }
  });
  after(async () => {
    for (const s of served) await s.close();
    for (const d of daemons) await d.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('runs once per big scrape, after its responses, and never for a small one', async () => {
    assert.ok((await get(big.url)) >= GC_AFTER_SAMPLES, 'the big daemon makes a big scrape');
    await settle(() => calls.big);
    assert.equal(calls.big, 1);

    // Joined scrapes share one query: one collection for all of them.
    const queries = big.target.stats.queries;
    await Promise.all([get(big.url), get(big.url), get(big.url)]);
    await settle(() => calls.big);
    assert.equal(calls.big, 1 + big.target.stats.queries - queries);

    // Plain and gzip scrapes taking turns: one collection after each, none more.
    let before = calls.big;
    await get(big.url, 'identity');
    await settle(() => calls.big);
    assert.equal(calls.big, before + 1, 'after a plain scrape');
    await get(big.url);
    await settle(() => calls.big);
    assert.equal(calls.big, before + 2, 'after a gzip scrape that follows a plain one');
    before = calls.big;
    await get(big.url);
    await settle(() => calls.big);
    assert.equal(calls.big, before + 1, 'after a gzip scrape only');

    assert.ok((await get(small.url)) < GC_AFTER_SAMPLES);
    await get(small.url);
    await settle(() => calls.small);
    assert.equal(calls.small, 0);
  });
});
