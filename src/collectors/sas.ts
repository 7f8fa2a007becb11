// Collector `sas`: the standard per-SA families from list-sas. One series set per IKE SA (labels conn,
// ike_id) and per CHILD SA (labels conn, ike_id, child, child_id); relative times become timestamps.

import {
  type Exposition,
  escapeLabelValue,
  labelBytes,
  labelBytesOf,
  renderLabels,
} from '../metrics/exposition.js';
import { F, type Family } from '../metrics/families.js';
import { childName, num, str, strList, subSections, type ViciSection } from '../vici/index.js';
import type { Collector } from './collector.js';

const IKE_INFO = F.ikeSaInfo.labels.slice(2);
const CHILD_INFO = F.childSaInfo.labels.slice(4);
const IN = labelBytes(',direction="in"');
const OUT = labelBytes(',direction="out"');

/** `,state="..."` as bytes, made once per state name (a daemon has a dozen). */
const stateSuffix = labelBytesOf((state) => `,state="${escapeLabelValue(state)}"`, 64);

/** Write `now + sign * field` when the field is present. */
function timestamp(
  out: Exposition,
  f: Family,
  labels: Uint8Array,
  suffix: Uint8Array | null,
  now: number,
  field: string | undefined,
  sign: 1 | -1,
) {
  const v = num(field);
  if (v !== undefined) out.put(f, labels, suffix, now + sign * v);
}

export function writeIkeSa(
  out: Exposition,
  now: number,
  conn: string,
  ike: ViciSection,
  hideRemoteIds = false,
): void {
  const s = (k: string) => str(ike[k]);
  const ikeId = s('uniqueid') ?? '';
  const labels = renderLabels(['conn', 'ike_id'], [conn, ikeId]);
  const lb = labelBytes(labels);
  const info = renderLabels(IKE_INFO, [
    s('version') ?? '',
    s('local-host') ?? '',
    s('local-id') ?? '',
    s('remote-host') ?? '',
    hideRemoteIds ? '' : (s('remote-id') ?? ''),
    s('initiator') === 'yes' ? 'true' : 'false',
    s('encr-alg') ?? '',
    s('encr-keysize') ?? '',
    s('integ-alg') ?? '',
    s('integ-keysize') ?? '',
    s('prf-alg') ?? '',
    s('dh-group') ?? '',
  ]);
  out.sample(F.ikeSaInfo, `${labels},${info}`, 1);
  out.put(F.ikeSaState, lb, stateSuffix(s('state') ?? ''), 1);
  timestamp(out, F.ikeSaEstablished, lb, null, now, s('established'), -1);
  timestamp(out, F.ikeSaRekey, lb, null, now, s('rekey-time'), 1);
  timestamp(out, F.ikeSaReauth, lb, null, now, s('reauth-time'), 1);
  const children = subSections(ike['child-sas']);
  out.put(F.ikeSaChildSas, lb, null, children.length);
  for (const [key, child] of children) writeChildSa(out, now, labels, key, child);
}

function writeChildSa(
  out: Exposition,
  now: number,
  ikeLabels: string,
  key: string,
  child: ViciSection,
): void {
  const s = (k: string) => str(child[k]);
  const labels = `${ikeLabels},${renderLabels(['child', 'child_id'], [childName(key, child), s('uniqueid') ?? ''])}`;
  const info = renderLabels(CHILD_INFO, [
    s('mode') ?? '',
    s('protocol') ?? '',
    s('encap') === 'yes' ? 'true' : 'false',
    s('reqid') ?? '',
    s('spi-in') ?? '',
    s('spi-out') ?? '',
    strList(child['local-ts']).join(','),
    strList(child['remote-ts']).join(','),
    s('encr-alg') ?? '',
    s('encr-keysize') ?? '',
    s('integ-alg') ?? '',
    s('integ-keysize') ?? '',
    s('dh-group') ?? '',
  ]);
  out.sample(F.childSaInfo, `${labels},${info}`, 1);
  const lb = labelBytes(labels);
  out.put(F.childSaState, lb, stateSuffix(s('state') ?? ''), 1);
  const counter = (f: Family, suffix: Uint8Array, k: string) => {
    const v = s(k);
    if (v !== undefined) out.put(f, lb, suffix, v);
  };
  counter(F.childSaBytes, IN, 'bytes-in');
  counter(F.childSaBytes, OUT, 'bytes-out');
  counter(F.childSaPackets, IN, 'packets-in');
  counter(F.childSaPackets, OUT, 'packets-out');
  timestamp(out, F.childSaLastPacket, lb, IN, now, s('use-in'), -1);
  timestamp(out, F.childSaLastPacket, lb, OUT, now, s('use-out'), -1);
  timestamp(out, F.childSaInstalled, lb, null, now, s('install-time'), -1);
  timestamp(out, F.childSaRekey, lb, null, now, s('rekey-time'), 1);
  timestamp(out, F.childSaExpire, lb, null, now, s('life-time'), 1);
}

export const sas: Collector = {
  name: 'sas',
  help: 'IKE and CHILD SAs from list-sas: info, state, traffic counters and timestamps (standard names).',
  defaultEnabled: true,
  async collect(ctx, out) {
    await ctx.sas((conn, ike) => writeIkeSa(out, ctx.now, conn, ike, ctx.options.hideRemoteIdentities));
  },
};
