// Collector `version`: what the daemon says about itself (`version`): strongswan_info = 1.

import { F } from '../metrics/families.js';
import { str } from '../vici/index.js';
import type { Collector } from './collector.js';

export const version: Collector = {
  name: 'version',
  help: 'The daemon name and version and the uname of its host (version): strongswan_info.',
  defaultEnabled: true,
  async collect(ctx, out) {
    // The scrape's up-probe already asked; ask again only when used without it.
    const v = ctx.version ?? (await ctx.command('version'));

    out.write(
      F.info,
      1,
      out.labels(
        F.info.labels,
        F.info.labels.map((k) => str(v[k]) ?? ''),
      ),
    );
  },
};
