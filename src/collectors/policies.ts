// Collector `policies`: installed trap policies and drop/pass shunts (`list-policies`), counted by type.
// list-policies lists nothing unless `trap`, `drop` or `pass` is set, so all three are. Each streamed
// `list-policy` event is one section: `mode` is PASS or DROP for a shunt, the IPsec mode (TUNNEL,
// TRANSPORT, ...) for a trap policy.

import { F } from '../metrics/families.js';
import { isSection, str } from '../vici/index.js';
import type { Collector } from './collector.js';

export const policies: Collector = {
  name: 'policies',
  help: 'Trap policies and drop/pass shunts (list-policies): counts by type.',
  defaultEnabled: true,
  async collect(ctx, out) {
    const counts = { trap: 0, drop: 0, pass: 0 };
    await ctx.stream('list-policies', { trap: 'yes', drop: 'yes', pass: 'yes' }, (msg) => {
      for (const name in msg) {
        const p = msg[name];
        const list = isSection(p) ? [p] : Array.isArray(p) ? p.filter(isSection) : [];
        for (const pol of list) {
          const mode = str(pol.mode)?.toUpperCase();
          if (mode === 'PASS') counts.pass++;
          else if (mode === 'DROP') counts.drop++;
          else counts.trap++;
        }
      }
    });
    for (const type of ['trap', 'drop', 'pass'] as const) {
      out.write(F.policies, counts[type], null, type);
    }
  },
};
