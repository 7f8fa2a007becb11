// THE list of collectors. Flags (--[no-]collector.NAME), the README and the scrape loop read it.

import { certs } from './certs.js';
import type { Collector } from './collector.js';
import { conncounters } from './conncounters.js';
import { conns } from './conns.js';
import { counters } from './counters.js';
import { events } from './events.js';
import { policies } from './policies.js';
import { pools } from './pools.js';
import { sas } from './sas.js';
import { seed } from './seed.js';
import { stats } from './stats.js';
import { users } from './users.js';
import { version } from './version.js';

export const COLLECTORS: readonly Collector[] = [
  seed,
  sas,
  conns,
  version,
  stats,
  pools,
  certs,
  counters,
  conncounters,
  policies,
  events,
  users,
];
