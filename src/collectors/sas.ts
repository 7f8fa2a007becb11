// Collector `sas`: the standard per-SA families from list-sas. One series set per IKE SA (labels conn,
// ike_id) and per CHILD SA (labels conn, ike_id, child, child_id); relative times become timestamps.

import { type Exposition, escapeLabelValue, isDecimal, renderLabels } from '../metrics/exposition.js';
import { F, type Family } from '../metrics/families.js';
import { num, str, strList, subSections, type ViciSection } from '../vici/index.js';
import type { Collector } from './collector.js';

const IKE_INFO = F.ikeSaInfo.labels.slice(2);
const CHILD_INFO = F.childSaInfo.labels.slice(4);

/** Write `now + sign * field` when the field is present. */
function timestamp(
  out: Exposition,
  f: Family,
  labels: string,
  now: number,
  field: string | undefined,
  sign: 1 | -1,
) {
  const v = num(field);
  if (v !== undefined) out.sample(f, labels, now + sign * v);
}

/** A CHILD SA's config name: the `name` key (5.5.2+), else the section name (older daemons). */
export function childName(key: string, child: ViciSection): string {
  return str(child.name) ?? key;
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
  out.sample(F.ikeSaState, `${labels},state="${escapeLabelValue(s('state') ?? '')}"`, 1);
  timestamp(out, F.ikeSaEstablished, labels, now, s('established'), -1);
  timestamp(out, F.ikeSaRekey, labels, now, s('rekey-time'), 1);
  timestamp(out, F.ikeSaReauth, labels, now, s('reauth-time'), 1);
  const children = subSections(ike['child-sas']);
  out.sample(F.ikeSaChildSas, labels, children.length);
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
  out.sample(F.childSaState, `${labels},state="${escapeLabelValue(s('state') ?? '')}"`, 1);
  const inL = `${labels},direction="in"`;
  const outL = `${labels},direction="out"`;
  const bytesIn = s('bytes-in');
  const bytesOut = s('bytes-out');
  const packetsIn = s('packets-in');
  const packetsOut = s('packets-out');
  if (isDecimal(bytesIn)) out.sample(F.childSaBytes, inL, bytesIn);
  if (isDecimal(bytesOut)) out.sample(F.childSaBytes, outL, bytesOut);
  if (isDecimal(packetsIn)) out.sample(F.childSaPackets, inL, packetsIn);
  if (isDecimal(packetsOut)) out.sample(F.childSaPackets, outL, packetsOut);
  timestamp(out, F.childSaLastPacket, inL, now, s('use-in'), -1);
  timestamp(out, F.childSaLastPacket, outL, now, s('use-out'), -1);
  timestamp(out, F.childSaInstalled, labels, now, s('install-time'), -1);
  timestamp(out, F.childSaRekey, labels, now, s('rekey-time'), 1);
  timestamp(out, F.childSaExpire, labels, now, s('life-time'), 1);
}

export const sas: Collector = {
  name: 'sas',
  help: 'IKE and CHILD SAs from list-sas: info, state, traffic counters and timestamps (standard names).',
  defaultEnabled: true,
  async collect(ctx, out) {
    await ctx.sas((conn, ike) => writeIkeSa(out, ctx.now, conn, ike, ctx.options.hideRemoteIdentities));
  },
};
