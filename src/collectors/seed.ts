// Collector `seed`: the seed exporter's metric names, labels and relative values, kept exactly, so its
// Grafana panels keep working. Two of its bugs are fixed: packet metrics read the packet counters, and
// strongswan_sa_state is 1 for an INSTALLED CHILD SA. Values that the daemon does not report (no rekey
// scheduled, say) are left out instead of being written as 0.

import type { Exposition, LabelSet } from '../metrics/exposition.js';
import { F, type Family, LABELS } from '../metrics/families.js';
import { childName, num, str, strList, subSections, type ViciSection } from '../vici/index.js';
import type { Collector } from './collector.js';

function rel(out: Exposition, f: Family, labels: LabelSet, field: string | undefined): void {
  const v = num(field);
  if (v !== undefined) out.write(f, v, labels);
}

const flag01 = (v: string | undefined) => (v === 'yes' ? 1 : 0);

/** The key size gauges of an SA: one per algorithm it has, labelled with it and the DH group. */
function keysizes(
  out: Exposition,
  l: LabelSet,
  s: (k: string) => string | undefined,
  enc: Family,
  integ: Family,
): void {
  const dh = s('dh-group') ?? '';
  const encr = s('encr-alg');
  if (encr !== undefined) out.write(enc, num(s('encr-keysize')) ?? 0, l, encr, dh);
  const integAlg = s('integ-alg');
  if (integAlg !== undefined) out.write(integ, num(s('integ-keysize')) ?? 0, l, integAlg, dh);
}

function writeIke(out: Exposition, conn: string, ike: ViciSection): void {
  const s = (k: string) => str(ike[k]);
  const id = s('uniqueid') ?? '';
  const l = out.labels(LABELS.seedIke, [conn, id]);
  rel(out, F.seedIkeVersion, l, s('version'));
  out.write(F.seedIkeState, s('state') === 'ESTABLISHED' ? 1 : 0, l);
  out.write(F.seedIkeInitiator, flag01(s('initiator')), l);
  out.write(F.seedIkeNatRemote, flag01(s('nat-remote')), l);
  out.write(F.seedIkeNatFake, flag01(s('nat-fake')), l);
  keysizes(out, l, s, F.seedIkeEncKeysize, F.seedIkeIntegKeysize);
  rel(out, F.seedIkeEstablished, l, s('established'));
  rel(out, F.seedIkeRekey, l, s('rekey-time'));
  rel(out, F.seedIkeReauth, l, s('reauth-time'));
  const children = subSections(ike['child-sas']);
  out.write(F.seedIkeChildren, children.length, l);
  for (const [key, child] of children) writeChild(out, conn, id, key, child);
}

function writeChild(out: Exposition, conn: string, ikeId: string, key: string, child: ViciSection): void {
  const s = (k: string) => str(child[k]);
  const values = [conn, ikeId, childName(key, child), s('uniqueid') ?? ''];
  const l = out.labels(LABELS.seedChild, values);
  values.push(strList(child['local-ts']).join(';'), strList(child['remote-ts']).join(';'));
  const ts = out.labels(LABELS.seedTs, values);
  out.write(F.seedSaState, s('state') === 'INSTALLED' ? 1 : 0, ts);
  out.write(F.seedSaEncap, flag01(s('encap')), l);
  keysizes(out, l, s, F.seedSaEncKeysize, F.seedSaIntegKeysize);
  const counter = (f: Family, k: string) => {
    const v = s(k);
    if (v !== undefined) out.write(f, v, ts);
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
      const l = out.labels(LABELS.seedIke, [name, '']);
      out.write(F.seedIkeState, 0, l);
      out.write(F.seedIkeChildren, 0, l);
    });
    out.write(F.seedKnownIkes, ikes + idle);
    out.write(F.seedIkesConnected, ikes);
  },
  down(out) {
    out.write(F.seedIkesConnected, 0);
  },
};
