// Collector `seed`: the seed exporter's metric names, labels and relative values, kept exactly, so its
// Grafana panels keep working. Two of its bugs are fixed: packet metrics read the packet counters, and
// strongswan_sa_state is 1 for an INSTALLED CHILD SA. Values that the daemon does not report (no rekey
// scheduled, say) are left out instead of being written as 0.

import { type Exposition, labelBytes, renderLabels } from '../metrics/exposition.js';
import { F, type Family } from '../metrics/families.js';
import { childName, num, str, strList, subSections, type ViciSection } from '../vici/index.js';
import type { Collector } from './collector.js';

function rel(out: Exposition, f: Family, labels: Uint8Array, field: string | undefined): void {
  const v = num(field);
  if (v !== undefined) out.put(f, labels, null, v);
}

const flag01 = (v: string | undefined) => (v === 'yes' ? 1 : 0);

/** `,algorithm="...",dh_group="..."` as bytes; the few combinations a daemon uses are made once. */
const ALG_SUFFIXES = new Map<string, Map<string, Buffer>>();
let algSuffixes = 0;
function algSuffix(alg: string, dh: string): Buffer {
  // By algorithm, then DH group: no key string made per call.
  let byDh = ALG_SUFFIXES.get(alg);
  let b = byDh?.get(dh);
  if (b === undefined) {
    b = labelBytes(`,${renderLabels(['algorithm', 'dh_group'], [alg, dh])}`);
    if (algSuffixes < 1024) {
      if (byDh === undefined) {
        byDh = new Map();
        ALG_SUFFIXES.set(alg, byDh);
      }
      byDh.set(dh, b);
      algSuffixes++;
    }
  }
  return b;
}

/** The key size gauges of an SA: one per algorithm it has, labelled with it and the DH group. */
function keysizes(
  out: Exposition,
  l: Uint8Array,
  s: (k: string) => string | undefined,
  enc: Family,
  integ: Family,
): void {
  const dh = s('dh-group') ?? '';
  const encr = s('encr-alg');
  if (encr !== undefined) out.put(enc, l, algSuffix(encr, dh), num(s('encr-keysize')) ?? 0);
  const integAlg = s('integ-alg');
  if (integAlg !== undefined) out.put(integ, l, algSuffix(integAlg, dh), num(s('integ-keysize')) ?? 0);
}

function writeIke(out: Exposition, conn: string, ike: ViciSection): void {
  const s = (k: string) => str(ike[k]);
  const id = s('uniqueid') ?? '';
  const l = labelBytes(renderLabels(['name', 'uniqueid'], [conn, id]));
  rel(out, F.seedIkeVersion, l, s('version'));
  out.put(F.seedIkeState, l, null, s('state') === 'ESTABLISHED' ? 1 : 0);
  out.put(F.seedIkeInitiator, l, null, flag01(s('initiator')));
  out.put(F.seedIkeNatRemote, l, null, flag01(s('nat-remote')));
  out.put(F.seedIkeNatFake, l, null, flag01(s('nat-fake')));
  keysizes(out, l, s, F.seedIkeEncKeysize, F.seedIkeIntegKeysize);
  rel(out, F.seedIkeEstablished, l, s('established'));
  rel(out, F.seedIkeRekey, l, s('rekey-time'));
  rel(out, F.seedIkeReauth, l, s('reauth-time'));
  const children = subSections(ike['child-sas']);
  out.put(F.seedIkeChildren, l, null, children.length);
  for (const [key, child] of children) writeChild(out, conn, id, key, child);
}

function writeChild(out: Exposition, conn: string, ikeId: string, key: string, child: ViciSection): void {
  const s = (k: string) => str(child[k]);
  const ls = renderLabels(
    ['ike_name', 'ike_id', 'child_name', 'child_id'],
    [conn, ikeId, childName(key, child), s('uniqueid') ?? ''],
  );
  const l = labelBytes(ls);
  const ts = labelBytes(
    `${ls},${renderLabels(['localTS', 'remoteTS'], [strList(child['local-ts']).join(';'), strList(child['remote-ts']).join(';')])}`,
  );
  out.put(F.seedSaState, ts, null, s('state') === 'INSTALLED' ? 1 : 0);
  out.put(F.seedSaEncap, l, null, flag01(s('encap')));
  keysizes(out, l, s, F.seedSaEncKeysize, F.seedSaIntegKeysize);
  const counter = (f: Family, k: string) => {
    const v = s(k);
    if (v !== undefined) out.put(f, ts, null, v);
  };
  counter(F.seedSaBytesIn, 'bytes-in');
  counter(F.seedSaPacketsIn, 'packets-in');
  rel(out, F.seedSaLastIn, ts, s('use-in'));
  counter(F.seedSaBytesOut, 'bytes-out');
  counter(F.seedSaPacketsOut, 'packets-out');
  rel(out, F.seedSaLastOut, ts, s('use-out'));
  rel(out, F.seedSaEstablished, l, s('install-time'));
  rel(out, F.seedSaRekey, l, s('rekey-time'));
  rel(out, F.seedSaLifetime, l, s('life-time'));
}

export const seed: Collector = {
  name: 'seed',
  help: "The seed exporter's metrics under their original names and labels (drop-in compatibility).",
  defaultEnabled: true,
  async collect(ctx, out) {
    const withSa = new Set<string>();
    let ikes = 0;
    const sasDone = ctx.sas((conn, ike) => {
      ikes++;
      withSa.add(conn);
      writeIke(out, conn, ike);
    });
    await sasDone;

    let idle = 0;
    await ctx.conns(({ name }) => {
      if (withSa.has(name)) return;
      // A configured connection without IKE SA: listed with zero values, as the seed does.
      idle++;
      const l = renderLabels(['name', 'uniqueid'], [name, '']);
      out.sample(F.seedIkeState, l, 0);
      out.sample(F.seedIkeChildren, l, 0);
    });
    out.sample(F.seedKnownIkes, '', ikes + idle);
    out.sample(F.seedIkesConnected, '', ikes);
  },
  down(out) {
    out.sample(F.seedIkesConnected, '', 0);
  },
};
