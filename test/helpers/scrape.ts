// One scrape of some collectors against a FakeCharon, parsed: for the collectors' unit tests.
import { type Collector, runScrape } from '../../src/collectors/collector.js';
import { createLogger } from '../../src/log.js';
import { ViciClient } from '../../src/vici/index.js';
import type { FakeCharon } from '../fake-charon/server.js';
import { type Parsed, parseExposition, value } from './exposition.js';

export const quietLog = createLogger('error', 'json', () => {});

export interface FakeScrape {
  p: Parsed;
  text: string;
  ms: number;
}

/** Scrape `collectors` from a listening FakeCharon over a fresh client (closed afterwards). */
export async function scrapeFake(
  fake: FakeCharon,
  collectors: readonly Collector[],
  timeoutMs = 2000,
): Promise<FakeScrape> {
  const client = new ViciClient({ address: fake.address, timeoutMs });
  const t0 = Date.now();
  try {
    const r = await runScrape(client, collectors, timeoutMs, quietLog);
    const text = r.exposition.text('prometheus');
    return { p: parseExposition(text), text, ms: Date.now() - t0 };
  } finally {
    client.close();
  }
}

/** strongswan_exporter_collector_success of one collector. */
export function success(p: Parsed, collector: string): number {
  return value(p, 'strongswan_exporter_collector_success', { collector });
}

export const VERSION_REPLY = {
  daemon: 'charon',
  version: '5.9.8',
  sysname: 'Linux',
  release: '6.1.0-18-amd64',
  machine: 'x86_64',
};

import { COUNTER_KEYS } from '../../src/collectors/counters.js';

export { COUNTER_KEYS };

/** A counter set whose values are base + position, so every mapping is checked. */
export function counterSet(base: number): Record<string, string> {
  return Object.fromEntries(COUNTER_KEYS.map((k, i) => [k, String(base + i)]));
}
