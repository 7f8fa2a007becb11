// THE list of collectors. Flags (--[no-]collector.NAME), the README and the scrape loop read it.

import type { Collector } from './collector.js';
import { conns } from './conns.js';
import { sas } from './sas.js';
import { seed } from './seed.js';

export const COLLECTORS: readonly Collector[] = [seed, sas, conns];

export function collectorByName(name: string): Collector | undefined {
  return COLLECTORS.find((c) => c.name === name);
}
