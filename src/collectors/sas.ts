// Collector `sas`: the standard per-SA families from list-sas. One series set per IKE SA (labels conn,
// ike_id) and per CHILD SA (labels conn, ike_id, child, child_id); relative times become timestamps.

import type { Exposition, LabelSet } from '../metrics/exposition.js';
import { F, type Family, LABELS } from '../metrics/families.js';
import { childName, num, str, strList, subSections, type ViciSection } from '../vici/index.js';
import type { Collector } from './collector.js';

/** Write `now + sign * field` when the field is present. */
function timestamp(
  out: Exposition,
  f: Family,
  labels: LabelSet,
  now: number,
  field: string | undefined,
  sign: 1 | -1,
  direction?: string,
) {
  const v = num(field);
  if (v !== undefined) out.write(f, now + sign * v, labels, direction);
}

/** The additional key exchanges of strongSwan 6 (ake1 ... ake7), in order, joined with '+'. */
const AKE_KEYS = ['ake1', 'ake2', 'ake3', 'ake4', 'ake5', 'ake6', 'ake7'] as const;

function additionalKeyExchanges(sa: ViciSection): string {
  let out = '';
  for (const k of AKE_KEYS) {
    const v = str(sa[k]);
    if (v !== undefined) out = out === '' ? v : `${out}+${v}`;
  }
  return out;
}

/** A mark as charon lists it (hex), with `/mask` where it lists one; '' when there is none. */
function mark(sa: ViciSection, key: string, maskKey: string): string {
  const v = str(sa[key]);
  if (v === undefined) return '';
  const m = str(sa[maskKey]);
  return m === undefined ? v : `${v}/${m}`;
}

/** The CPU of a per-CPU SA; `any` for the fallback SA of a config with per-CPU SAs (it has no `cpu`). */
function cpu(child: ViciSection): string {
  const v = str(child.cpu);
  if (v !== undefined) return v;
  return str(child['per-cpu-sas']) === 'yes' ? 'any' : '';
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
  const lb = out.labels(LABELS.ike, [conn, ikeId]);
  const info = out.labels(F.ikeSaInfo.labels, [
    conn,
    ikeId,
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
    additionalKeyExchanges(ike),
    hideRemoteIds ? '' : (s('remote-eap-id') ?? ''),
    hideRemoteIds ? '' : (s('remote-xauth-id') ?? ''),
    strList(ike['local-vips']).join(','),
    strList(ike['remote-vips']).join(','),
    s('if-id-in') ?? '',
    s('if-id-out') ?? '',
  ]);
  out.write(F.ikeSaInfo, 1, info);
  out.write(F.ikeSaState, 1, lb, s('state') ?? '');
  timestamp(out, F.ikeSaEstablished, lb, now, s('established'), -1);
  timestamp(out, F.ikeSaRekey, lb, now, s('rekey-time'), 1);
  timestamp(out, F.ikeSaReauth, lb, now, s('reauth-time'), 1);
  const children = subSections(ike['child-sas']);
  out.write(F.ikeSaChildSas, children.length, lb);
  for (const [key, child] of children) writeChildSa(out, now, conn, ikeId, key, child);
}

function writeChildSa(
  out: Exposition,
  now: number,
  conn: string,
  ikeId: string,
  key: string,
  child: ViciSection,
): void {
  const s = (k: string) => str(child[k]);
  const name = childName(key, child);
  const id = s('uniqueid') ?? '';
  const info = out.labels(F.childSaInfo.labels, [
    conn,
    ikeId,
    name,
    id,
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
    additionalKeyExchanges(child),
    s('if-id-in') ?? '',
    s('if-id-out') ?? '',
    mark(child, 'mark-in', 'mark-mask-in'),
    mark(child, 'mark-out', 'mark-mask-out'),
    cpu(child),
  ]);
  out.write(F.childSaInfo, 1, info);
  const lb = out.labels(LABELS.child, [conn, ikeId, name, id]);
  out.write(F.childSaState, 1, lb, s('state') ?? '');
  const counter = (f: Family, direction: string, k: string) => {
    const v = s(k);
    if (v !== undefined) out.write(f, v, lb, direction);
  };
  counter(F.childSaBytes, 'in', 'bytes-in');
  counter(F.childSaBytes, 'out', 'bytes-out');
  counter(F.childSaPackets, 'in', 'packets-in');
  counter(F.childSaPackets, 'out', 'packets-out');
  timestamp(out, F.childSaLastPacket, lb, now, s('use-in'), -1, 'in');
  timestamp(out, F.childSaLastPacket, lb, now, s('use-out'), -1, 'out');
  timestamp(out, F.childSaInstalled, lb, now, s('install-time'), -1);
  timestamp(out, F.childSaRekey, lb, now, s('rekey-time'), 1);
  timestamp(out, F.childSaExpire, lb, now, s('life-time'), 1);
}

export const sas: Collector = {
  name: 'sas',
  help: 'IKE and CHILD SAs from list-sas: info, state, traffic counters and timestamps (standard names).',
  defaultEnabled: true,
  async collect(ctx, out) {
    await ctx.sas((conn, ike) => writeIkeSa(out, ctx.now, conn, ike, ctx.options.hideRemoteIdentities));
  },
};
