// Collector `pools`: virtual IP pools loaded over VICI (`get-pools`): size and leases in use / offline.
//
// get-pools is asked WITHOUT `leases`. The per-pool `online` and `offline` counts are in the reply
// either way, while `leases = yes` adds about 90 bytes per lease: with some 5 000 leases the reply
// passes 512 KiB, which charon drops without a word, and the scrape would only see a timeout (and
// lose its connection). Without leases the reply is a few dozen bytes per pool.

import { F } from '../metrics/families.js';
import { isSection, str } from '../vici/index.js';
import type { Collector } from './collector.js';

export const pools: Collector = {
  name: 'pools',
  help: 'Virtual IP pools loaded over VICI (get-pools, without the lease list): size, online and offline leases.',
  defaultEnabled: true,
  async collect(ctx, out) {
    const reply = await ctx.command('get-pools');
    for (const name in reply) {
      const pool = reply[name];
      if (!isSection(pool)) continue; // success/errmsg of a failed call never get here
      out.write(F.poolAddresses, str(pool.size), null, name);
      for (const state of ['online', 'offline'] as const)
        out.write(F.poolLeases, str(pool[state]), null, name, state);
    }
  },
};
