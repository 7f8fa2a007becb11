// Collector `counters`: the counters plugin's global IKE counters (`get-counters` without a name: the
// set whose section name is the empty string), as Prometheus counters without a `conn` label. The
// per-connection sets are the `conncounters` collector's, under strongswan_conn_* names (see there).
// Without the counters plugin charon answers success=no ("no counters available (plugin missing?)"),
// and before 5.6.1 the command is unknown: either way this collector fails alone.

import type { Exposition, LabelSet } from '../metrics/exposition.js';
import { F, type Family } from '../metrics/families.js';
import { isSection, str, type ViciEntry, type ViciSection } from '../vici/index.js';
import type { Collector } from './collector.js';

/** The 21 keys of a counter set, in the order charon sends them (counters plugin, `get-counters`). */
export const COUNTER_KEYS = [
  'ike-rekey-init',
  'ike-rekey-resp',
  'child-rekey',
  'invalid',
  'invalid-spi',
  'ike-init-in-req',
  'ike-init-in-resp',
  'ike-init-out-req',
  'ike-init-out-resp',
  'ike-auth-in-req',
  'ike-auth-in-resp',
  'ike-auth-out-req',
  'ike-auth-out-resp',
  'create-child-in-req',
  'create-child-in-resp',
  'create-child-out-req',
  'create-child-out-resp',
  'info-in-req',
  'info-in-resp',
  'info-out-req',
  'info-out-resp',
] as const;

export const EXCHANGES = ['ike-init', 'ike-auth', 'create-child', 'info'] as const;
const DIRECTIONS = ['in', 'out'] as const;
const KINDS = [
  ['req', 'request'],
  ['resp', 'response'],
] as const;

export interface CounterFamilies {
  messages: Family;
  rekeys: Family;
  childRekeys: Family;
  invalid: Family;
  invalidSpi: Family;
}

export const GLOBAL_FAMILIES: CounterFamilies = {
  messages: F.ikeMessages,
  rekeys: F.ikeRekeys,
  childRekeys: F.childRekeys,
  invalid: F.ikeInvalidMessages,
  invalidSpi: F.ikeInvalidSpiMessages,
};

/**
 * Write one counter set (21 decimal u64 values, written as they are so nothing is rounded). `prefix`:
 * the labels that come first (`conn`), null for none. Counters the set lacks are left out, except
 * that a `null` set (a connection without recorded counters) is written as zeros.
 */
export function writeCounterSet(
  out: Exposition,
  fam: CounterFamilies,
  prefix: LabelSet | null,
  set: ViciSection | null,
): void {
  const v = (k: string): string => (set === null ? '0' : (str(set[k]) ?? ''));
  for (const ex of EXCHANGES) {
    for (const dir of DIRECTIONS) {
      for (const [suffix, kind] of KINDS)
        out.write(fam.messages, v(`${ex}-${dir}-${suffix}`), prefix, ex, dir, kind);
    }
  }
  out.write(fam.rekeys, v('ike-rekey-init'), prefix, 'initiator');
  out.write(fam.rekeys, v('ike-rekey-resp'), prefix, 'responder');
  out.write(fam.childRekeys, v('child-rekey'), prefix);
  out.write(fam.invalid, v('invalid'), prefix);
  out.write(fam.invalidSpi, v('invalid-spi'), prefix);
}

/** The `counters` section of a get-counters reply as [name, set] pairs (the global set is named ''). */
export function counterSets(reply: ViciSection): [string, ViciSection][] {
  const c: ViciEntry | undefined = reply.counters;
  if (!isSection(c)) return [];
  const sets: [string, ViciSection][] = [];
  for (const name in c) {
    const s = c[name];
    if (isSection(s)) sets.push([name, s]);
  }
  return sets;
}

export const counters: Collector = {
  name: 'counters',
  help: 'Global IKE message, rekey and invalid-message counters of the counters plugin (get-counters).',
  defaultEnabled: true,
  async collect(ctx, out) {
    const reply = await ctx.command('get-counters');
    const global = counterSets(reply).find(([name]) => name === '');
    if (global === undefined) throw new Error('get-counters: no global counter set in the reply');
    writeCounterSet(out, GLOBAL_FAMILIES, null, global[1]);
  },
};
