// The synthetic daemon's state: a deterministic table of N IKE SAs with C CHILD SAs each, spread over a
// number of connection configs, described in exactly the keys, formats and order of charon 5.9.8's
// list-sa (vici_query.c list_ike/list_child). Every value that grows or counts down (established,
// install-time, rekey-time, life-time, bytes, packets) is a linear function of the elapsed second s
// since the table was made, so a listing at second s is fully determined by (seed, N, C, conns, s) and
// by the changes made since (rekeys, reconnects), which bump `version`.

import type { Sink } from './wire.js';

/** 32-bit integer hash (lowbias32): the table's only source of "randomness". */
function mix(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

export function hash(seed: number, i: number, k: number): number {
  return mix(mix(seed ^ Math.imul(i + 1, 0x9e3779b1)) ^ Math.imul(k + 1, 0x85ebca6b));
}

const hex8 = (n: number) => (n >>> 0).toString(16).padStart(8, '0');

function ipv4(n: number): string {
  return `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

interface IkeProposal {
  encr: string;
  encrKeysize: string;
  integ?: string;
  prf: string;
  dh: string;
}

interface EspProposal {
  encr: string;
  encrKeysize: string;
  integ?: string;
  /** PFS group, only when the CHILD SA was created with PFS. */
  dh?: string;
}

const IKE_PROPOSALS: readonly IkeProposal[] = [
  {
    encr: 'AES_CBC',
    encrKeysize: '128',
    integ: 'HMAC_SHA2_256_128',
    prf: 'PRF_HMAC_SHA2_256',
    dh: 'ECP_256',
  },
  { encr: 'AES_GCM_16', encrKeysize: '256', prf: 'PRF_HMAC_SHA2_384', dh: 'CURVE_25519' },
  {
    encr: 'AES_CBC',
    encrKeysize: '256',
    integ: 'HMAC_SHA2_512_256',
    prf: 'PRF_HMAC_SHA2_512',
    dh: 'MODP_2048',
  },
];

const ESP_PROPOSALS: readonly EspProposal[] = [
  { encr: 'AES_CBC', encrKeysize: '128', integ: 'HMAC_SHA2_256_128' },
  { encr: 'AES_GCM_16', encrKeysize: '256' },
  { encr: 'AES_CBC', encrKeysize: '256', integ: 'HMAC_SHA2_512_256', dh: 'MODP_2048' },
];

export const LOCAL_HOST = '203.0.113.1';
export const LOCAL_ID = 'C=CH, O=Example Corp, CN=vpn1.example.net';
/** IKE SAs are rekeyed after 4 h, CHILD SAs after 1 h (minus jitter), as with swanctl's defaults. */
const IKE_REKEY = 14_400;
const CHILD_REKEY = 3_600;
const CHILD_LIFE = 3_960;

export interface ChildRec {
  name: string;
  uid: number;
  reqid: number;
  spiIn: string;
  spiOut: string;
  esp: EspProposal;
  encap: boolean;
  idle: boolean;
  /** bytes = base + rate*s; packets = floor(bytes / packet size). */
  bytesInBase: number;
  bytesInRate: number;
  bytesOutBase: number;
  bytesOutRate: number;
  pktSizeIn: number;
  pktSizeOut: number;
  useIn: number;
  useOut: number;
  /** install-time = installAgo + s; rekey-time = rekeyAt - s; life-time = lifeAt - s. */
  installAgo: number;
  rekeyAt: number;
  lifeAt: number;
  localTs: string[];
  remoteTs: string[];
  /** strongSwan 6 (SyntheticFeatures): ake1, if ids, marks (8-digit hex), per-CPU SAs. */
  ake?: string;
  ifIdIn?: string;
  ifIdOut?: string;
  markIn?: string;
  markMaskIn?: string;
  markOut?: string;
  /** `per-cpu-sas = yes`: an SA of a child config with per-CPU SAs; `cpu` unset for its fallback SA. */
  perCpu?: boolean;
  cpu?: number;
}

export interface IkeRec {
  index: number;
  conn: string;
  uid: number;
  localPort: number;
  remoteHost: string;
  remotePort: number;
  remoteId: string;
  initiator: boolean;
  ispi: string;
  rspi: string;
  nat: boolean;
  ike: IkeProposal;
  /** established = establishedAgo + s; rekey-time = rekeyAt - s. */
  establishedAgo: number;
  rekeyAt: number;
  /** Skipped by list-sas with noblock, waited for without (see SyntheticOptions.busyEvery). */
  busy: boolean;
  children: ChildRec[];
  /** strongSwan 6 (SyntheticFeatures): ake1, road-warrior EAP id and virtual IPs, if ids. */
  ake?: string;
  remoteEapId?: string;
  remoteVips?: string[];
  ifIdIn?: string;
  ifIdOut?: string;
}

/**
 * strongSwan 6.x keys on some SAs, in the keys and order of charon 6.0.2+ (vici_query.c list_ike,
 * list_child_ipsec). Each `...Every: k` selects IKE SAs 0, k, 2k, ... (0 or unset: none), so the
 * defaults leave the table exactly as charon 5.9.8 lists it.
 */
export interface SyntheticFeatures {
  /** IKE SAs with an additional key exchange `ake1` (and their CHILD SAs that have a dh-group). */
  akeEvery?: number;
  /** The method of `ake1`; default ML_KEM_768. */
  ake?: string;
  /** Road warriors: remote-id = their address, remote-eap-id = user<i+1>@example.net, remote-vips. */
  roadWarriorEvery?: number;
  /** IKE and CHILD SAs with if-id-in/out, CHILD SAs with mark-in (and mask) and mark-out. */
  ifIdsEvery?: number;
  /** IKE SAs whose first child config (net1) has per-CPU SAs: one per CPU plus the fallback SA. */
  perCpuEvery?: number;
  /** CPUs with an SA of their own in such a config; default 2. */
  perCpuCpus?: number;
}

const every = (k: number | undefined, i: number) => k !== undefined && k > 0 && i % k === 0;

export interface TableOptions {
  ikeSas: number;
  childrenPerIke: number;
  /** Connection configs the IKE SAs are spread over (round robin). Default: one per IKE SA. */
  conns?: number;
  /** Extra configured connections without any IKE SA. Default 0. */
  idleConns?: number;
  seed?: number;
  /** Every k-th IKE SA is busy (see IkeRec.busy); 0 = none. */
  busyEvery?: number;
  features?: SyntheticFeatures;
}

export function connName(j: number): string {
  return `site-${j + 1}`;
}

export class SaTable {
  readonly seed: number;
  readonly ikeSas: IkeRec[] = [];
  readonly childrenPerIke: number;
  readonly conns: number;
  readonly idleConns: number;
  /** Bumped by every change; listings cached for (second, version). */
  version = 0;
  private nextIkeUid: number;
  private nextChildUid: number;
  private readonly spiCounter = { n: 0 };

  constructor(opts: TableOptions) {
    const n = opts.ikeSas;
    this.seed = opts.seed ?? 1;
    this.childrenPerIke = opts.childrenPerIke;
    this.conns = Math.max(1, Math.min(opts.conns ?? n, Math.max(n, 1)));
    this.idleConns = opts.idleConns ?? 0;
    const busyEvery = opts.busyEvery ?? 0;
    for (let i = 0; i < n; i++) this.ikeSas.push(this.makeIke(i, busyEvery));
    this.nextIkeUid = n + 1;
    this.nextChildUid = n * this.childrenPerIke + 1;
    const f = opts.features;
    if (f !== undefined) for (const r of this.ikeSas) this.addFeatures(r, f);
  }

  /** strongSwan 6 keys on one IKE SA and its CHILD SAs; per-CPU SAs get uniqueids after all others. */
  private addFeatures(r: IkeRec, f: SyntheticFeatures): void {
    const i = r.index;
    if (every(f.akeEvery, i)) {
      r.ake = f.ake ?? 'ML_KEM_768';
      for (const c of r.children) if (c.esp.dh !== undefined) c.ake = r.ake;
    }
    if (every(f.roadWarriorEvery, i)) {
      r.remoteId = r.remoteHost;
      r.remoteEapId = `user${i + 1}@example.net`;
      r.remoteVips = [ipv4(0x64400001 + (i % 4_194_300))];
    }
    if (every(f.ifIdsEvery, i)) {
      r.ifIdIn = hex8(i + 1);
      r.ifIdOut = hex8(i + 0x10001);
      for (const c of r.children) {
        c.ifIdIn = r.ifIdIn;
        c.ifIdOut = r.ifIdOut;
        c.markIn = hex8(c.uid);
        c.markMaskIn = '0000ffff';
        c.markOut = hex8(c.uid);
      }
    }
    const base = r.children[0];
    if (base !== undefined && every(f.perCpuEvery, i)) {
      const cpus = Math.max(1, f.perCpuCpus ?? 2);
      base.perCpu = true;
      base.cpu = 0;
      // CPUs 1..cpus-1, then the fallback SA (no cpu): same config, reqid and selectors, own counters.
      for (let k = 1; k <= cpus; k++) {
        const own = this.makeChild(r, this.childrenPerIke + k - 1, this.nextChildUid++, r.establishedAgo);
        r.children.push({
          ...own,
          name: base.name,
          esp: base.esp,
          encap: base.encap,
          reqid: base.reqid,
          localTs: base.localTs,
          remoteTs: base.remoteTs,
          ifIdIn: base.ifIdIn,
          ifIdOut: base.ifIdOut,
          markIn: base.markIn,
          markMaskIn: base.markMaskIn,
          markOut: base.markOut,
          ake: base.ake,
          perCpu: true,
          cpu: k < cpus ? k : undefined,
        });
      }
    }
  }

  /** Every configured connection name, in load order (the ones with SAs first). */
  connNames(): string[] {
    const out: string[] = [];
    for (let j = 0; j < this.conns + this.idleConns; j++) out.push(connName(j));
    return out;
  }

  private h(i: number, k: number): number {
    return hash(this.seed, i, k);
  }

  private freshSpi(i: number, k: number): string {
    // kernel SPIs are allocated from 0xc0000000..0xcfffffff
    this.spiCounter.n++;
    return hex8(0xc0000000 | (hash(this.seed ^ this.spiCounter.n, i, k) & 0x0fffffff));
  }

  private ikeSpi(i: number, k: number): string {
    return hex8(this.h(i, k)) + hex8(this.h(i, k + 1));
  }

  private makeIke(i: number, busyEvery: number): IkeRec {
    const h = (k: number) => this.h(i, k);
    const nat = h(1) % 4 === 0;
    const remoteBase = i < 131_070 ? 0xc6120001 + i : 0x64400001 + ((i - 131_070) % 4_194_300);
    const conn = connName(i % this.conns);
    const siteNo = (i % this.conns) + 1;
    const establishedAgo = 30 + (h(4) % (IKE_REKEY - 1800));
    const rec: IkeRec = {
      index: i,
      conn,
      uid: i + 1,
      localPort: nat ? 4500 : 500,
      remoteHost: ipv4(remoteBase),
      remotePort: nat ? (h(2) % 2 === 0 ? 4500 : 1024 + (h(3) % 64_000)) : 500,
      remoteId:
        h(5) % 2 === 0 ? `site-${siteNo}.branch.example.net` : `C=CH, O=Example Corp, CN=site-${siteNo}`,
      initiator: h(6) % 3 === 0,
      ispi: this.ikeSpi(i, 7),
      rspi: this.ikeSpi(i, 9),
      nat,
      ike: IKE_PROPOSALS[h(11) % IKE_PROPOSALS.length] as IkeProposal,
      establishedAgo,
      rekeyAt: IKE_REKEY - establishedAgo - (h(12) % 1440),
      busy: busyEvery > 0 && i % busyEvery === busyEvery - 1,
      children: [],
    };
    for (let c = 0; c < this.childrenPerIke; c++) {
      rec.children.push(this.makeChild(rec, c, i * this.childrenPerIke + c + 1, establishedAgo));
    }
    return rec;
  }

  private makeChild(ike: IkeRec, c: number, uid: number, maxAgo: number): ChildRec {
    const i = ike.index;
    const h = (k: number) => this.h(i, 100 + c * 32 + k);
    const installAgo = Math.min(maxAgo, 10 + (h(1) % (CHILD_REKEY - 400)));
    const idle = h(2) % 10 === 0;
    const rateIn = idle ? 0 : 200 + (h(3) % 60_000);
    const rateOut = idle ? 0 : 100 + (h(4) % 40_000);
    const remoteNet = 0x0a800000 + ((i * this.childrenPerIke + c) % 524_288) * 16;
    const localTs = [`10.${c % 256}.0.0/16`];
    if (c === 0 && h(5) % 7 === 0) localTs.push('10.200.0.0/16');
    return {
      name: `net${c + 1}`,
      uid,
      reqid: uid,
      spiIn: this.freshSpi(i, 200 + c),
      spiOut: this.freshSpi(i, 300 + c),
      esp: ESP_PROPOSALS[h(6) % ESP_PROPOSALS.length] as EspProposal,
      encap: ike.nat,
      idle,
      bytesInBase: rateIn * installAgo,
      bytesInRate: rateIn,
      bytesOutBase: rateOut * installAgo,
      bytesOutRate: rateOut,
      pktSizeIn: 200 + (h(7) % 1200),
      pktSizeOut: 120 + (h(8) % 1200),
      useIn: h(9) % 5,
      useOut: h(10) % 5,
      installAgo,
      rekeyAt: CHILD_REKEY - installAgo - (h(11) % 360),
      lifeAt: CHILD_LIFE - installAgo,
      localTs,
      remoteTs: [`${ipv4(remoteNet)}/28`],
    };
  }

  /** The IKE SA's keys (no child-sas), in charon 5.9.8's order (6.x's for SyntheticFeatures). */
  describeIkeKeys(sink: Sink, r: IkeRec): void {
    sink.kv('uniqueid', String(r.uid));
    sink.kv('version', '2');
    sink.kv('state', 'ESTABLISHED');
    sink.kv('local-host', LOCAL_HOST);
    sink.kv('local-port', String(r.localPort));
    sink.kv('local-id', LOCAL_ID);
    sink.kv('remote-host', r.remoteHost);
    sink.kv('remote-port', String(r.remotePort));
    sink.kv('remote-id', r.remoteId);
    if (r.remoteEapId !== undefined) sink.kv('remote-eap-id', r.remoteEapId);
    if (r.initiator) sink.kv('initiator', 'yes');
    sink.kv('initiator-spi', r.ispi);
    sink.kv('responder-spi', r.rspi);
    if (r.nat) {
      sink.kv('nat-remote', 'yes');
      sink.kv('nat-any', 'yes');
    }
    if (r.ifIdIn !== undefined) sink.kv('if-id-in', r.ifIdIn);
    if (r.ifIdOut !== undefined) sink.kv('if-id-out', r.ifIdOut);
    sink.kv('encr-alg', r.ike.encr);
    sink.kv('encr-keysize', r.ike.encrKeysize);
    if (r.ike.integ) sink.kv('integ-alg', r.ike.integ);
    sink.kv('prf-alg', r.ike.prf);
    sink.kv('dh-group', r.ike.dh);
    if (r.ake !== undefined) sink.kv('ake1', r.ake);
    sink.dyn('established', r.establishedAgo, 1);
    sink.dyn('rekey-time', r.rekeyAt, -1);
    if (r.remoteVips !== undefined) sink.list('remote-vips', r.remoteVips);
  }

  /** A CHILD SA's keys, in charon 5.9.8's order (6.x's for SyntheticFeatures). */
  describeChildKeys(sink: Sink, c: ChildRec): void {
    sink.kv('name', c.name);
    sink.kv('uniqueid', String(c.uid));
    sink.kv('reqid', String(c.reqid));
    sink.kv('state', 'INSTALLED');
    sink.kv('mode', 'TUNNEL');
    sink.kv('protocol', 'ESP');
    if (c.encap) sink.kv('encap', 'yes');
    sink.kv('spi-in', c.spiIn);
    sink.kv('spi-out', c.spiOut);
    if (c.markIn !== undefined) sink.kv('mark-in', c.markIn);
    if (c.markMaskIn !== undefined) sink.kv('mark-mask-in', c.markMaskIn);
    if (c.markOut !== undefined) sink.kv('mark-out', c.markOut);
    if (c.ifIdIn !== undefined) sink.kv('if-id-in', c.ifIdIn);
    if (c.ifIdOut !== undefined) sink.kv('if-id-out', c.ifIdOut);
    if (c.perCpu) sink.kv('per-cpu-sas', 'yes');
    if (c.cpu !== undefined) sink.kv('cpu', String(c.cpu));
    sink.kv('encr-alg', c.esp.encr);
    sink.kv('encr-keysize', c.esp.encrKeysize);
    if (c.esp.integ) sink.kv('integ-alg', c.esp.integ);
    if (c.esp.dh) sink.kv('dh-group', c.esp.dh);
    if (c.ake !== undefined) sink.kv('ake1', c.ake);
    sink.dyn('bytes-in', c.bytesInBase, c.bytesInRate);
    sink.dyn('packets-in', c.bytesInBase, c.bytesInRate, c.pktSizeIn);
    if (!c.idle) sink.kv('use-in', String(c.useIn));
    sink.dyn('bytes-out', c.bytesOutBase, c.bytesOutRate);
    sink.dyn('packets-out', c.bytesOutBase, c.bytesOutRate, c.pktSizeOut);
    if (!c.idle) sink.kv('use-out', String(c.useOut));
    sink.dyn('rekey-time', c.rekeyAt, -1);
    sink.dyn('life-time', c.lifeAt, -1);
    sink.dyn('install-time', c.installAgo, 1);
    sink.list('local-ts', c.localTs);
    sink.list('remote-ts', c.remoteTs);
  }

  /** One list-sa event's message: `<conn> { ike keys, child-sas { <name>-<uid> { ... } ... } }`. */
  describeListSa(sink: Sink, r: IkeRec): void {
    sink.sec(r.conn);
    this.describeIkeKeys(sink, r);
    sink.sec('child-sas');
    for (const c of r.children) {
      sink.sec(`${c.name}-${c.uid}`);
      this.describeChildKeys(sink, c);
      sink.end();
    }
    sink.end();
    sink.end();
  }

  /** Rekey one CHILD SA at second s: new uniqueid and SPIs, counters from zero. Returns [old, new]. */
  rekeyChild(r: IkeRec, index: number, s: number): [ChildRec, ChildRec] {
    const old = r.children[index] as ChildRec;
    const uid = this.nextChildUid++;
    const fresh: ChildRec = {
      ...old,
      uid,
      spiIn: this.freshSpi(r.index, 400 + index),
      spiOut: this.freshSpi(r.index, 500 + index),
      bytesInBase: -old.bytesInRate * s,
      bytesOutBase: -old.bytesOutRate * s,
      installAgo: -s,
      rekeyAt: s + CHILD_REKEY - (hash(this.seed, uid, 1) % 360),
      lifeAt: s + CHILD_LIFE,
    };
    r.children[index] = fresh;
    this.version++;
    return [old, fresh];
  }

  /** Rekey the IKE SA at second s: new uniqueid and SPIs, CHILD SAs move over. Returns [old, new]. */
  rekeyIke(r: IkeRec, s: number): [IkeRec, IkeRec] {
    const old = { ...r };
    r.uid = this.nextIkeUid++;
    r.ispi = this.ikeSpi(r.uid, 13);
    r.rspi = this.ikeSpi(r.uid, 15);
    r.establishedAgo = -s;
    r.rekeyAt = s + IKE_REKEY - (hash(this.seed, r.uid, 2) % 1440);
    this.version++;
    return [old, { ...r }];
  }

  /** The IKE SA goes down and is re-established at second s (new uniqueids for it and its children). */
  reconnect(r: IkeRec, s: number): IkeRec {
    this.rekeyIke(r, s);
    for (let c = 0; c < r.children.length; c++) this.rekeyChild(r, c, s);
    return r;
  }
}
