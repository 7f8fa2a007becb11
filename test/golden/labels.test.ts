// Every series every collector writes has exactly the label names its family declares (in
// src/metrics/families.ts), in that order: a full scrape of all collectors, the stateful events
// collector included, against the synthetic charon (IKE and CHILD SAs, idle connections, pools,
// certificates, counters, policies; strongSwan 6 keys on some SAs; events generated between two scrapes).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type SyntheticCharon, startSyntheticCharon } from '../../bench/synthetic-charon.js';
import { type Collector, runScrape } from '../../src/collectors/collector.js';
import { COLLECTORS } from '../../src/collectors/registry.js';
import { ALL_FAMILIES } from '../../src/metrics/families.js';
import { ViciClient } from '../../src/vici/index.js';
import { parseExposition } from '../helpers/exposition.js';
import { quietLog } from '../helpers/scrape.js';

describe('label names of every collector against their families', { timeout: 60_000 }, () => {
  let dir = '';
  let d: SyntheticCharon;
  let client: ViciClient;
  let attached: (Collector & { detach?(): void | Promise<void> })[] = [];
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'labels-'));
    d = await startSyntheticCharon({
      ikeSas: 12,
      childrenPerIke: 2,
      idleConns: 2,
      socketPath: path.join(dir, 'c.vici'),
      // strongSwan 6 keys on some SAs: per-CPU SAs, ake1, EAP ids and virtual IPs, if ids and marks.
      features: { akeEvery: 2, roadWarriorEvery: 3, ifIdsEvery: 4, perCpuEvery: 5 },
    });
    client = new ViciClient({ address: d.address, timeoutMs: 10_000 });
    const env = { address: d.address, timeoutMs: 10_000, log: quietLog };
    attached = COLLECTORS.map((c) => (c.attach ? c.attach(env) : c));
  });
  after(async () => {
    client.close();
    await Promise.all(attached.map((c) => c.detach?.()));
    await d.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('match exactly, for every sample of every collector', async () => {
    const byName = new Map(ALL_FAMILIES.map((f) => [f.name, f]));
    const seen = new Set<string>();
    for (let round = 0; round < 2; round++) {
      if (round === 1) d.generateEvents(20); // rekeys and reconnects: the events collector's series
      const r = await runScrape(client, attached, 10_000, quietLog);
      assert.equal(r.up, true);
      const p = parseExposition(r.exposition.text('prometheus'));
      for (const s of p.samples) {
        const f = byName.get(s.name);
        assert.ok(f, `${s.name}: no such family`);
        assert.deepEqual(Object.keys(s.labels), [...f.labels], `${s.name}: label names`);
        seen.add(f.collector);
      }
    }
    for (const c of COLLECTORS.filter((c) => c.defaultEnabled))
      assert.ok(seen.has(c.name), `collector ${c.name} wrote something`);
  });
});
