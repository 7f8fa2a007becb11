// A synthetic charon: a VICI server that answers like strongSwan's charon 5.9.8 (same keys, formats and
// orders) from a generated, deterministic table of N IKE SAs with C CHILD SAs each (bench/synthetic/
// table.ts). It is the load generator for `npm run bench`, so it must never be the bottleneck: every
// list-sa event is pre-encoded into a template once per table change, a listing is rendered by copying
// bytes and writing the growing counters' digits, and the rendered listing is reused for every listing
// in the same second. It records, per listing, the time from request to the final CMD_RESPONSE handed to
// the kernel.
//
// With `features` (CLI: --ake-every, --road-warrior-every, --if-ids-every, --per-cpu-every) some SAs
// carry strongSwan 6.0.2+ keys in 6.x's order: ake1, remote-eap-id and remote-vips, if ids and marks,
// per-CPU SAs (see SyntheticFeatures); without them the listing is 5.9.8's, byte for byte.
//
// Three ways to use it:
//   - module:  const d = await startSyntheticCharon({ ikeSas: 10_000, childrenPerIke: 2, socketPath })
//   - CLI:     node dist/bench/synthetic-charon.js --ike-sas 10000 --children 2 --socket /tmp/x.vici
//              then: swanctl --list-sas --raw --uri unix:///tmp/x.vici
//   - forked with an IPC channel (bench/run.ts): it sends {type:'ready', address} and answers
//     {type:'stats'} with {type:'stats', stats}, {type:'reset-stats'} with {type:'reset'}.
//
// Like charon: one packet at a time per connection, in order; stream events only to the requesting
// connection and only if it registered for them (twice if it registered twice); EVENT_UNKNOWN for
// events 5.9 does not have (`alert`); no reply to names with non-printable bytes or to server-only
// packet types; an outbound packet over 512 KiB is dropped silently (e.g. get-counters all=yes with
// more than about 1,000 connections); an inbound frame over 512 KiB closes the connection.
// Faults (`faults` option) are a hook for robustness tests; see FaultMode.

import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { COUNTER_KEYS } from '../src/collectors/counters.js';
import {
  decodePacketMessage,
  FrameDecoder,
  MAX_FRAME_BYTES,
  PacketType,
  parsePacket,
  str,
  type ViciSection,
} from '../src/vici/index.js';
import { makeCerts, type SyntheticCert } from './synthetic/certs.js';
import {
  connName,
  hash,
  type IkeRec,
  LOCAL_HOST,
  LOCAL_ID,
  SaTable,
  type SyntheticFeatures,
} from './synthetic/table.js';
import {
  EvalWriter,
  PACKET_CMD_RESPONSE,
  PACKET_CMD_UNKNOWN,
  PACKET_EVENT,
  PACKET_EVENT_CONFIRM,
  PACKET_EVENT_UNKNOWN,
  renderTemplate,
  type Sink,
  serverFrame,
  type Template,
  TemplateCompiler,
  templateMaxSize,
} from './synthetic/wire.js';

/**
 * Ways to misbehave, for robustness tests. Implemented:
 *   none              behave
 *   silent            no reply at all to the affected commands (the connection stays open)
 *   close-mid-stream  streamed commands: send half the events, then close; others: close instead of replying
 *   oversize-drop     what charon does with a packet over 512 KiB: streamed commands lose the middle event
 *                     (silently), other commands get no reply
 *   garbage           random bytes instead of the reply
 *   huge-header       a frame header announcing 2 GiB instead of the reply
 *   slow              reply after `delayMs` (default 2000)
 *   accept-drop       accept connections and close them at once
 *   unbalanced        a malformed message in a well-formed frame: other commands get their reply with a
 *                     SECTION_START that is never closed; streamed commands get the middle event with a
 *                     stray SECTION_END after its message (or, without events, the unclosed reply)
 *   big-value         valid, at the limit: `version` answers a `release` of 65,535 bytes (the largest a u16
 *                     length allows, BIG_VALUE), and an unfiltered list-sas lists the first IKE SA with
 *                     that `remote-id`; everything else behaves
 *   flap              a daemon that accepts and drops connections periodically: at once and then every
 *                     `intervalMs` (default 3000) it closes every open connection, and for the next
 *                     `downMs` (default half the interval) it accepts connections and closes them at once;
 *                     it behaves in between
 */
export type FaultMode =
  | 'none'
  | 'silent'
  | 'close-mid-stream'
  | 'oversize-drop'
  | 'garbage'
  | 'huge-header'
  | 'slow'
  | 'accept-drop'
  | 'unbalanced'
  | 'big-value'
  | 'flap';

export const FAULT_MODES: readonly FaultMode[] = [
  'none',
  'silent',
  'close-mid-stream',
  'oversize-drop',
  'garbage',
  'huge-header',
  'slow',
  'accept-drop',
  'unbalanced',
  'big-value',
  'flap',
];

/** The value of the `big-value` fault: 65,535 printable ASCII bytes, with a quote and a backslash. */
export const BIG_VALUE: string = (() => {
  const unit = 'big-value "quoted" \\ 0123456789 abcdefghijklmnopqrstuvwxyz ';
  return unit.repeat(Math.ceil(65_535 / unit.length)).slice(0, 65_535);
})();

export interface FaultSpec {
  mode: FaultMode;
  /** Commands affected; default all. */
  commands?: readonly string[];
  /** For `slow`. */
  delayMs?: number;
  /** For `flap`: the period (default 3000) and how long connections are dropped at once (default half). */
  intervalMs?: number;
  downMs?: number;
}

export interface SyntheticOptions {
  ikeSas: number;
  childrenPerIke: number;
  /** Connection configs the IKE SAs are spread over; default one per IKE SA (site-to-site concentrator). */
  conns?: number;
  /** Configured connections without IKE SA; default 0. */
  idleConns?: number;
  /** Listen on this unix socket path (a stale socket there is removed) ... */
  socketPath?: string;
  /** ... or on this TCP port of 127.0.0.1 (0 = any free port). */
  tcpPort?: number;
  seed?: number;
  /** Generated events per second (child-rekey, ike-rekey, reconnects with ike/child-updown); default 0. */
  eventRate?: number;
  faults?: FaultMode | FaultSpec;
  /** Every k-th IKE SA is busy: skipped by list-sas with noblock; without noblock the listing waits busyWaitMs. */
  busyEvery?: number;
  busyWaitMs?: number;
  /** strongSwan 6.x keys on some SAs (default none: a 5.9.8 listing). */
  features?: SyntheticFeatures;
  /** `version` answers this daemon version; default 5.9.8. */
  daemonVersion?: string;
  /** Make two X.509 certificates with openssl for list-certs (default true). */
  certs?: boolean;
  /** Clock in ms (tests freeze it); default Date.now. */
  clock?: () => number;
  /** Called after every listing (CLI --verbose). */
  onListing?: (r: ListingRecord) => void;
}

export interface ListingRecord {
  command: string;
  events: number;
  bytes: number;
  /** Rendering the events (0 when the listing of this second was reused). */
  buildMs: number;
  /** From the request to the final CMD_RESPONSE handed to the kernel (includes waiting for the reader). */
  sendMs: number;
  cached: boolean;
  filtered: boolean;
  fault?: FaultMode;
}

export interface SyntheticStats {
  accepted: number;
  connections: number;
  requests: Record<string, number>;
  listings: ListingRecord[];
  /** Outbound packets dropped because they exceed 512 KiB (as charon does), and by the oversize fault. */
  droppedOversize: number;
  eventsSent: number;
  tableChanges: number;
  /** Building the table and its templates at start, ms. */
  prepareMs: number;
  certs: number;
}

export interface SyntheticCharon {
  /** `unix:///path` or `tcp://127.0.0.1:port`, for --vici.address and swanctl --uri. */
  readonly address: string;
  readonly table: SaTable;
  readonly stats: SyntheticStats;
  readonly certs: readonly SyntheticCert[];
  /** The table's elapsed second now (what counters are computed for). */
  second(): number;
  /** The list-sas records (listings of list-sas only). */
  listSasTimings(): ListingRecord[];
  resetStats(): void;
  setFaults(f: FaultMode | FaultSpec): void;
  /** Run the event generator by hand: n events now (table changes and broadcasts). */
  generateEvents(n: number): void;
  close(): Promise<void>;
}

const KNOWN_EVENTS = new Set([
  'list-sa',
  'list-conn',
  'list-cert',
  'list-policy',
  'list-authority',
  'control-log',
  'log',
  'ike-updown',
  'child-updown',
  'ike-rekey',
  'child-rekey',
  'ike-update',
]);

const PLUGINS = [
  'charon',
  'random',
  'nonce',
  'x509',
  'revocation',
  'constraints',
  'pubkey',
  'pkcs1',
  'pkcs7',
  'pkcs8',
  'pkcs12',
  'pgp',
  'dnskey',
  'sshkey',
  'pem',
  'openssl',
  'fips-prf',
  'gmp',
  'curve25519',
  'xcbc',
  'cmac',
  'hmac',
  'kdf',
  'gcm',
  'drbg',
  'attr',
  'kernel-netlink',
  'resolve',
  'socket-default',
  'stroke',
  'vici',
  'updown',
  'eap-mschapv2',
  'xauth-generic',
  'counters',
];

const STREAMED: Readonly<Record<string, string>> = {
  'list-sas': 'list-sa',
  'list-conns': 'list-conn',
  'list-certs': 'list-cert',
  'list-policies': 'list-policy',
  'list-authorities': 'list-authority',
};

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad2 = (n: number) => String(n).padStart(2, '0');

/** charon's `uptime.since`: strftime "%b %d %H:%M:%S %Y", local time. */
function formatSince(ms: number): string {
  const d = new Date(ms);
  return `${MONTHS[d.getMonth()]} ${pad2(d.getDate())} ${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())} ${d.getFullYear()}`;
}

/** charon's `uptime.running`: the largest sensible unit. */
function formatRunning(sec: number): string {
  const unit = (n: number, u: string) => `${n} ${u}${n === 1 ? '' : 's'}`;
  if (sec < 120) return unit(sec, 'second');
  if (sec < 7200) return unit(Math.floor(sec / 60), 'minute');
  if (sec < 172_800) return unit(Math.floor(sec / 3600), 'hour');
  return unit(Math.floor(sec / 86_400), 'day');
}

interface Conn {
  socket: net.Socket;
  registered: Map<string, number>;
}

interface Listing {
  buf: Buffer;
  /** End offset of each event frame in buf. */
  ends: number[];
  /** The rendering buffer buf lives in (reused for later listings once no write holds it). */
  backing?: Buffer;
  /** Socket writes of buf still in flight. */
  refs: number;
  /** No longer the current listing: its backing goes back to the pool when refs drops to 0. */
  stale: boolean;
}

/**
 * Rendering buffers, reused: a fresh 67 MB buffer per listing costs more in page faults than the
 * rendering itself. A buffer is handed out again only when no socket write holds a part of it.
 */
class BufferPool {
  private readonly free: Buffer[] = [];
  take(size: number): Buffer {
    const i = this.free.findIndex((b) => b.length >= size);
    if (i >= 0) return this.free.splice(i, 1)[0] as Buffer;
    return Buffer.allocUnsafeSlow(Math.ceil(size * 1.05));
  }
  give(b: Buffer): void {
    if (this.free.length < 2) this.free.push(b);
  }
}

function isPrintable(name: string): boolean {
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

function msg(describe: (s: Sink) => void): Buffer {
  return msgAt(describe, 0);
}

/** Encode a message with its dynamic numbers (counters) as of second s. */
function msgAt(describe: (s: Sink) => void, s: number): Buffer {
  const w = new EvalWriter(s);
  describe(w);
  return w.result();
}

/** `unbalanced`: a section opened and never closed (appended to a reply's message). */
const UNCLOSED_SECTION = Buffer.from([1, 8, ...Buffer.from('unclosed')]);
/** `unbalanced`: a SECTION_END at root level (appended to a streamed event's message). */
const STRAY_SECTION_END = Buffer.from([2]);

/** A frame (header included) with bytes appended to its message, length fixed. */
function appendToFrame(frame: Buffer, extra: Buffer): Buffer {
  const out = Buffer.concat([frame, extra]);
  out.writeUInt32BE(out.length - 4, 0);
  return out;
}

/** A copy of a listing with frame k replaced. */
function replaceFrame(l: Listing, k: number, frame: Buffer): Listing {
  const from = k === 0 ? 0 : (l.ends[k - 1] as number);
  const to = l.ends[k] as number;
  const buf = Buffer.concat([l.buf.subarray(0, from), frame, l.buf.subarray(to)]);
  const delta = frame.length - (to - from);
  const ends = l.ends.map((e, i) => (i < k ? e : e + delta));
  return { buf, ends, refs: 0, stale: true };
}

export async function startSyntheticCharon(opts: SyntheticOptions): Promise<SyntheticCharon> {
  const clock = opts.clock ?? Date.now;
  const t0prep = performance.now();
  const table = new SaTable({
    ikeSas: opts.ikeSas,
    childrenPerIke: opts.childrenPerIke,
    conns: opts.conns,
    idleConns: opts.idleConns,
    seed: opts.seed,
    busyEvery: opts.busyEvery,
    features: opts.features,
  });
  const t0 = clock();
  const second = () => Math.floor((clock() - t0) / 1000);
  // The daemon has been up for a while before the oldest SA came up.
  const daemonStart = t0 - 15_000 * 1000;

  const templates: (Template | null)[] = table.ikeSas.map(() => null);
  const templateOf = (i: number): Template => {
    let t = templates[i];
    if (t === null || t === undefined) {
      const c = new TemplateCompiler('list-sa');
      table.describeListSa(c, table.ikeSas[i] as IkeRec);
      t = c.finish();
      templates[i] = t;
    }
    return t;
  };
  for (let i = 0; i < templates.length; i++) templateOf(i);

  let certs: SyntheticCert[] = [];
  if (opts.certs !== false) certs = makeCerts();

  const stats: SyntheticStats = {
    accepted: 0,
    connections: 0,
    requests: {},
    listings: [],
    droppedOversize: 0,
    eventsSent: 0,
    tableChanges: 0,
    prepareMs: 0,
    certs: certs.length,
  };
  stats.prepareMs = performance.now() - t0prep;

  let fault: FaultSpec = { mode: 'none' };
  let flapTimer: NodeJS.Timeout | null = null;
  /** While Date.now() is below this, `flap` drops every connection it accepts. */
  let downUntil = 0;
  const flap = () => {
    for (const c of conns) c.socket.destroy();
    downUntil = Date.now() + (fault.downMs ?? (fault.intervalMs ?? 3000) / 2);
  };
  const setFaults = (f: FaultMode | FaultSpec) => {
    fault = typeof f === 'string' ? { mode: f } : f;
    if (flapTimer !== null) clearInterval(flapTimer);
    flapTimer = null;
    downUntil = 0;
    if (fault.mode === 'flap') {
      flap();
      flapTimer = setInterval(flap, fault.intervalMs ?? 3000);
      flapTimer.unref();
    }
  };
  const faultFor = (command: string): FaultMode =>
    fault.mode !== 'none' && (fault.commands === undefined || fault.commands.includes(command))
      ? fault.mode
      : 'none';

  // ---- listings ----
  let cache: { s: number; version: number; listing: Listing } | null = null;
  const pool = new BufferPool();
  let connsListing: Listing | null = null;

  function render(select: (r: IkeRec) => boolean, s: number): Listing {
    let max = 0;
    const chosen: number[] = [];
    for (let i = 0; i < table.ikeSas.length; i++) {
      if (!select(table.ikeSas[i] as IkeRec)) continue;
      chosen.push(i);
      max += templateMaxSize(templateOf(i));
    }
    const backing = pool.take(max);
    const ends: number[] = new Array(chosen.length);
    let pos = 0;
    for (let k = 0; k < chosen.length; k++) {
      pos = renderTemplate(templateOf(chosen[k] as number), s, backing, pos);
      ends[k] = pos;
    }
    return { buf: backing.subarray(0, pos), ends, backing, refs: 0, stale: false };
  }

  function release(l: Listing): void {
    if (l.stale && l.refs === 0 && l.backing !== undefined) {
      pool.give(l.backing);
      l.backing = undefined;
    }
  }

  /** Write part of a listing, holding its buffer until the kernel has the bytes. */
  function writeListing(conn: Conn, l: Listing, part: Buffer): void {
    l.refs++;
    conn.socket.write(part, () => {
      l.refs--;
      release(l);
    });
  }

  function listSas(req: ViciSection): { listing: Listing; cached: boolean; filtered: boolean; s: number } {
    const s = second();
    const ike = str(req.ike);
    const ikeId = Number(str(req['ike-id']) ?? 0) || 0;
    const noblock = req.noblock !== undefined;
    const filtered = ike !== undefined || ikeId !== 0 || (noblock && (opts.busyEvery ?? 0) > 0);
    if (!filtered) {
      if (cache !== null && cache.s === s && cache.version === table.version) {
        return { listing: cache.listing, cached: true, filtered, s };
      }
      const listing = render(() => true, s);
      if (cache !== null) {
        cache.listing.stale = true;
        release(cache.listing);
      }
      cache = { s, version: table.version, listing };
      return { listing, cached: false, filtered, s };
    }
    const listing = render(
      (r) =>
        (ike === undefined || r.conn === ike) && (ikeId === 0 || r.uid === ikeId) && !(noblock && r.busy),
      s,
    );
    return { listing, cached: false, filtered, s };
  }

  // ---- small replies and other listings ----
  const oneSaPerConn = table.conns === opts.ikeSas;

  function describeConn(sink: Sink, j: number): void {
    const name = connName(j);
    const first = j < table.conns && oneSaPerConn ? (table.ikeSas[j] as IkeRec) : undefined;
    sink.sec(name);
    sink.list('local_addrs', [LOCAL_HOST]);
    sink.list('remote_addrs', [first?.remoteHost ?? '%any']);
    sink.kv('version', 'IKEv2');
    sink.kv('reauth_time', '0');
    sink.kv('rekey_time', '14400');
    sink.kv('unique', 'UNIQUE_NO');
    sink.kv('dpd_delay', '30');
    for (const [sec, id] of [
      ['local-1', LOCAL_ID],
      ['remote-1', first?.remoteId ?? '%any'],
    ] as const) {
      sink.sec(sec);
      sink.kv('id', id);
      sink.kv('class', 'pre-shared key');
      sink.list('groups', []);
      sink.list('cert_policy', []);
      sink.list('certs', []);
      sink.list('cacerts', []);
      sink.end();
    }
    sink.sec('children');
    for (let c = 0; c < table.childrenPerIke; c++) {
      const child = first?.children[c];
      sink.sec(`net${c + 1}`);
      sink.kv('mode', 'TUNNEL');
      sink.kv('rekey_time', '3600');
      sink.kv('rekey_bytes', '0');
      sink.kv('rekey_packets', '0');
      sink.kv('dpd_action', 'none');
      sink.kv('close_action', 'none');
      sink.list('local-ts', child?.localTs ?? [`10.${c % 256}.0.0/16`]);
      sink.list('remote-ts', child?.remoteTs ?? ['dynamic']);
      sink.end();
    }
    sink.end();
    sink.end();
  }

  function counterValues(sink: Sink, key: number): void {
    COUNTER_KEYS.forEach((n, k) => {
      const scale = n.startsWith('info') ? 50 : n.startsWith('invalid') ? 2 : 5;
      sink.kv(n, String(hash(table.seed, key, 1000 + k) % scale));
    });
  }

  function getCounters(req: ViciSection): Buffer {
    const name = str(req.name);
    const all = ['yes', 'true', '1', 'enabled'].includes((str(req.all) ?? '').toLowerCase());
    const names = table.connNames();
    return msg((sink) => {
      if (name !== undefined && !all && !names.includes(name)) {
        sink.kv('success', 'no');
        sink.kv('errmsg', 'no counters found for this connection');
        return;
      }
      sink.sec('counters');
      if (all) {
        for (const n of [...names].sort()) {
          sink.sec(n);
          counterValues(sink, names.indexOf(n) + 1);
          sink.end();
        }
      } else {
        sink.sec(name ?? '');
        counterValues(sink, name === undefined ? 0 : names.indexOf(name) + 1);
        sink.end();
      }
      sink.end();
      sink.kv('success', 'yes');
    });
  }

  const POOLS = [
    { name: 'rw-v4', base: '100.64.0.1', size: 1022, online: 7, offline: 2 },
    { name: 'rw-v6', base: 'fd00:64::1', size: 65_535, online: 3, offline: 0 },
  ];
  function getPools(req: ViciSection): Buffer {
    const leases = ['yes', 'true', '1', 'enabled'].includes((str(req.leases) ?? '').toLowerCase());
    const only = str(req.name);
    return msg((sink) => {
      for (const p of POOLS) {
        if (only !== undefined && only !== p.name) continue;
        sink.sec(p.name);
        sink.kv('base', p.base);
        sink.kv('size', String(p.size));
        sink.kv('online', String(p.online));
        sink.kv('offline', String(p.offline));
        if (leases) {
          sink.sec('leases');
          for (let k = 0; k < p.online + p.offline; k++) {
            sink.sec(String(k));
            sink.kv('address', p.base.includes(':') ? `fd00:64::${k + 1}` : `100.64.0.${k + 1}`);
            sink.kv('identity', `user${k + 1}@example.net`);
            sink.kv('status', k < p.online ? 'online' : 'offline');
            sink.end();
          }
          sink.end();
        }
        sink.end();
      }
    });
  }

  function stats_(): Buffer {
    const s = second();
    const n = table.ikeSas.length;
    const nowMs = clock();
    return msg((sink) => {
      sink.sec('uptime');
      sink.kv('running', formatRunning(Math.floor((nowMs - daemonStart) / 1000)));
      sink.kv('since', formatSince(daemonStart));
      sink.end();
      sink.sec('workers');
      sink.kv('total', '16');
      sink.kv('idle', String(10 + (s % 3)));
      sink.sec('active');
      sink.kv('critical', '4');
      sink.kv('high', '0');
      sink.kv('medium', String(2 - (s % 3)));
      sink.kv('low', '0');
      sink.end();
      sink.end();
      sink.sec('queues');
      for (const q of ['critical', 'high', 'medium', 'low']) sink.kv(q, '0');
      sink.end();
      sink.kv('scheduled', String(n * (1 + table.childrenPerIke) + 6));
      sink.sec('ikesas');
      sink.kv('total', String(n));
      sink.kv('half-open', '0');
      sink.end();
      sink.list('plugins', PLUGINS);
      sink.sec('mallinfo');
      const used = 900_000 + n * 11_000;
      sink.kv('sbrk', String(used + 2_000_000));
      sink.kv('mmap', '0');
      sink.kv('used', String(used));
      sink.kv('free', '2000000');
      sink.end();
    });
  }

  function version(release = os.release()): Buffer {
    return msg((sink) => {
      sink.kv('daemon', 'charon');
      sink.kv('version', opts.daemonVersion ?? '5.9.8');
      sink.kv('sysname', 'Linux');
      sink.kv('release', release);
      sink.kv('machine', os.machine());
    });
  }

  function certEvents(req: ViciSection): Buffer[] {
    const type = (str(req.type) ?? 'ANY').toUpperCase();
    const flag = (str(req.flag) ?? 'ANY').toUpperCase();
    return certs
      .filter((c) => {
        switch (type) {
          case 'ANY':
            return true;
          case 'X509':
            return str(req.type) === 'x509' ? c.flag === 'NONE' : flag === 'ANY' || flag === c.flag;
          case 'X509CA':
            return c.flag === 'CA';
          default:
            return false;
        }
      })
      .map((c) =>
        msg((sink) => {
          sink.kv('type', 'X509');
          sink.kv('flag', c.flag);
          if (c.hasPrivkey) sink.kv('has_privkey', 'yes');
          sink.kv('data', c.der);
        }),
      );
  }

  function policyEvents(req: ViciSection): Buffer[] {
    const out: Buffer[] = [];
    const child = str(req.child);
    const shunts = [
      { ns: 'bypass', name: 'lan-bypass', mode: 'PASS', ts: '192.168.0.0/16' },
      { ns: 'block', name: 'block-rfc5737', mode: 'DROP', ts: '198.51.100.0/24' },
    ];
    for (const sh of shunts) {
      if (child !== undefined && child !== sh.name) continue;
      if ((sh.mode === 'PASS' && req.pass === undefined) || (sh.mode === 'DROP' && req.drop === undefined))
        continue;
      out.push(
        msg((sink) => {
          sink.sec(`${sh.ns}/${sh.name}`);
          sink.kv('child', sh.name);
          sink.kv('ike', sh.ns);
          sink.kv('mode', sh.mode);
          sink.list('local-ts', [sh.ts]);
          sink.list('remote-ts', [sh.ts]);
          sink.end();
        }),
      );
    }
    return out;
  }

  // ---- events ----
  const conns = new Set<Conn>();
  if (opts.faults !== undefined) setFaults(opts.faults);

  function broadcast(event: string, message: Buffer): void {
    let frame: Buffer | null = null;
    for (const c of conns) {
      const n = c.registered.get(event) ?? 0;
      if (n === 0) continue;
      frame ??= serverFrame(PACKET_EVENT, event, message);
      for (let k = 0; k < n; k++) c.socket.write(frame);
      stats.eventsSent += n;
    }
  }

  let genStep = 0;
  function generateEvents(count: number): void {
    const n = table.ikeSas.length;
    if (n === 0) return;
    for (let k = 0; k < count; k++) {
      const step = genStep++;
      const r = table.ikeSas[(step * 7919) % n] as IkeRec;
      const s = second();
      // Events carry the counters as of now (the old CHILD SA's final bytes and packets).
      const msg = (describe: (sink: Sink) => void) => msgAt(describe, s);
      const kind = step % 3;
      if (kind === 0 && r.children.length > 0) {
        const ci = step % r.children.length;
        const [old, fresh] = table.rekeyChild(r, ci, s);
        broadcast(
          'child-rekey',
          msg((sink) => {
            sink.sec(r.conn);
            table.describeIkeKeys(sink, r);
            sink.sec('child-sas');
            sink.sec(old.name);
            sink.sec('old');
            table.describeChildKeys(sink, old);
            sink.end();
            sink.sec('new');
            table.describeChildKeys(sink, fresh);
            sink.end();
            sink.end();
            sink.end();
            sink.end();
          }),
        );
      } else if (kind === 1) {
        const [old, fresh] = table.rekeyIke(r, s);
        broadcast(
          'ike-rekey',
          msg((sink) => {
            sink.sec(r.conn);
            sink.sec('old');
            table.describeIkeKeys(sink, old);
            sink.end();
            sink.sec('new');
            table.describeIkeKeys(sink, fresh);
            sink.end();
            sink.end();
          }),
        );
      } else {
        const ikeDown = msg((sink) => {
          sink.sec(r.conn);
          table.describeIkeKeys(sink, r);
          sink.end();
        });
        const childEvents = (up: boolean) =>
          r.children.map((c) =>
            msg((sink) => {
              if (up) sink.kv('up', 'yes');
              sink.sec(r.conn);
              table.describeIkeKeys(sink, r);
              sink.sec('child-sas');
              sink.sec(`${c.name}-${c.uid}`);
              table.describeChildKeys(sink, c);
              sink.end();
              sink.end();
              sink.end();
            }),
          );
        broadcast('ike-updown', ikeDown);
        for (const m of childEvents(false)) broadcast('child-updown', m);
        table.reconnect(r, s);
        broadcast(
          'ike-updown',
          msg((sink) => {
            sink.kv('up', 'yes');
            sink.sec(r.conn);
            table.describeIkeKeys(sink, r);
            sink.end();
          }),
        );
        for (const m of childEvents(true)) broadcast('child-updown', m);
      }
      templates[r.index] = null;
      stats.tableChanges++;
    }
  }

  let genTimer: NodeJS.Timeout | null = null;
  if ((opts.eventRate ?? 0) > 0) {
    const rate = opts.eventRate as number;
    const everyMs = Math.max(10, 1000 / rate);
    let owed = 0;
    genTimer = setInterval(() => {
      owed += (rate * everyMs) / 1000;
      const n = Math.floor(owed);
      owed -= n;
      if (n > 0) generateEvents(n);
    }, everyMs);
    genTimer.unref();
  }

  // ---- connections ----
  function send(conn: Conn, buf: Buffer, cb?: () => void): void {
    if (buf.length - 4 > MAX_FRAME_BYTES) {
      // charon: "vici message size ... exceeds maximum size ..., discarded"
      stats.droppedOversize++;
      cb?.();
      return;
    }
    conn.socket.write(buf, cb);
  }

  async function handle(conn: Conn, data: Buffer): Promise<void> {
    const p = parsePacket(data);
    const name = p.name ?? '';
    const write = (b: Buffer) => conn.socket.write(b);
    switch (p.type) {
      case PacketType.EVENT_REGISTER:
        if (!isPrintable(name)) return;
        if (!KNOWN_EVENTS.has(name)) return void write(serverFrame(PACKET_EVENT_UNKNOWN, undefined));
        conn.registered.set(name, (conn.registered.get(name) ?? 0) + 1);
        return void write(serverFrame(PACKET_EVENT_CONFIRM, undefined));
      case PacketType.EVENT_UNREGISTER: {
        if (!isPrintable(name)) return;
        const n = conn.registered.get(name) ?? 0;
        if (n === 0) return void write(serverFrame(PACKET_EVENT_UNKNOWN, undefined));
        conn.registered.set(name, n - 1);
        return void write(serverFrame(PACKET_EVENT_CONFIRM, undefined));
      }
      case PacketType.CMD_REQUEST:
        if (!isPrintable(name)) return;
        return command(conn, name, decodePacketMessage(p, { text: true }));
      default:
        return; // "unsupported vici operation": ignored
    }
  }

  async function command(conn: Conn, name: string, req: ViciSection): Promise<void> {
    const started = performance.now();
    stats.requests[name] = (stats.requests[name] ?? 0) + 1;
    const f = faultFor(name);
    if (f === 'silent') return;
    if (f === 'slow') await new Promise((r) => setTimeout(r, fault.delayMs ?? 2000));
    if (f === 'garbage') {
      const junk = Buffer.alloc(64);
      for (let k = 0; k < junk.length; k++) junk[k] = hash(table.seed, k, stats.requests[name] ?? 0) & 0xff;
      return void conn.socket.write(junk);
    }
    if (f === 'huge-header') return void conn.socket.write(Buffer.from([0x80, 0, 0, 0, 1, 0, 0, 0]));

    const event = STREAMED[name];
    const response = (body?: Buffer) => serverFrame(PACKET_CMD_RESPONSE, undefined, body);
    if (event === undefined) {
      let body: Buffer | null;
      switch (name) {
        case 'version':
          body = f === 'big-value' ? version(BIG_VALUE) : version();
          break;
        case 'stats':
          body = stats_();
          break;
        case 'get-pools':
          body = getPools(req);
          break;
        case 'get-counters':
          body = getCounters(req);
          break;
        case 'get-conns':
          body = msg((sink) => sink.list('conns', table.connNames()));
          break;
        default:
          body = null;
      }
      if (f === 'close-mid-stream') return void conn.socket.destroy();
      if (body === null) return void conn.socket.write(serverFrame(PACKET_CMD_UNKNOWN, undefined));
      if (f === 'unbalanced') body = Buffer.concat([body, UNCLOSED_SECTION]);
      if (f === 'oversize-drop') {
        stats.droppedOversize++;
        return;
      }
      return send(conn, response(body));
    }

    // Streamed: events (only if registered), then the empty CMD_RESPONSE.
    const registrations = conn.registered.get(event) ?? 0;
    let listing: Listing;
    let cached = false;
    let filtered = false;
    let s = 0;
    const tb = performance.now();
    if (name === 'list-sas') {
      if ((opts.busyEvery ?? 0) > 0 && req.noblock === undefined) {
        await new Promise((r) => setTimeout(r, opts.busyWaitMs ?? 100));
      }
      ({ listing, cached, filtered, s } = listSas(req));
    } else if (name === 'list-conns' && req.ike === undefined && connsListing !== null) {
      // Connection configs never change: the full list-conns is encoded once.
      listing = connsListing;
      cached = true;
    } else {
      let messages: Buffer[] = [];
      if (name === 'list-conns') {
        const only = str(req.ike);
        const all = table.connNames();
        messages = all
          .map((n, j) => (only === undefined || only === n ? j : -1))
          .filter((j) => j >= 0)
          .map((j) => msg((sink) => describeConn(sink, j)));
        filtered = only !== undefined;
      } else if (name === 'list-certs') messages = certEvents(req);
      else if (name === 'list-policies') messages = policyEvents(req);
      const frames = messages.map((m) => serverFrame(PACKET_EVENT, event, m));
      const ends: number[] = [];
      let pos = 0;
      for (const fr of frames) {
        pos += fr.length;
        ends.push(pos);
      }
      listing = { buf: Buffer.concat(frames, pos), ends, refs: 0, stale: true };
      if (name === 'list-conns' && !filtered) connsListing = listing;
    }
    let finalResponse = response();
    if ((f === 'unbalanced' || f === 'big-value') && registrations > 0) {
      // A patched copy: the cached listing stays as it is.
      const original = listing;
      const n = original.ends.length;
      if (f === 'unbalanced' && n > 0) {
        const k = Math.floor(n / 2);
        const fr = original.buf.subarray(k === 0 ? 0 : original.ends[k - 1], original.ends[k]);
        listing = replaceFrame(original, k, appendToFrame(fr, STRAY_SECTION_END));
      } else if (f === 'unbalanced') {
        finalResponse = response(UNCLOSED_SECTION);
      } else if (name === 'list-sas' && !filtered && n > 0) {
        const first = table.ikeSas[0] as IkeRec;
        const body = msgAt((sink) => table.describeListSa(sink, { ...first, remoteId: BIG_VALUE }), s);
        listing = replaceFrame(original, 0, serverFrame(PACKET_EVENT, event, body));
      }
      if (listing !== original && original !== cache?.listing) {
        original.stale = true;
        release(original);
      }
    }
    const buildMs = cached ? 0 : performance.now() - tb;
    const { buf, ends } = listing;
    const record: ListingRecord = {
      command: name,
      events: registrations > 0 ? ends.length : 0,
      bytes: registrations > 0 ? buf.length : 0,
      buildMs,
      sendMs: 0,
      cached,
      filtered,
    };
    if (f !== 'none') record.fault = f;
    const frameAt = (k: number) => buf.subarray(k === 0 ? 0 : (ends[k - 1] as number), ends[k]);

    if (registrations > 0) {
      if (f === 'close-mid-stream') {
        const half = ends[Math.floor(ends.length / 2) - 1] ?? 0;
        writeListing(conn, listing, buf.subarray(0, half));
        conn.socket.end();
        record.events = Math.floor(ends.length / 2);
        finish(record);
        return;
      }
      if (f === 'oversize-drop' && ends.length > 0) {
        const mid = Math.floor(ends.length / 2);
        stats.droppedOversize++;
        record.events--;
        for (let r = 0; r < registrations; r++) {
          writeListing(conn, listing, buf.subarray(0, mid === 0 ? 0 : ends[mid - 1]));
          writeListing(conn, listing, buf.subarray(ends[mid]));
        }
      } else if (registrations === 1) {
        writeListing(conn, listing, buf);
      } else {
        // Registered n times: charon sends every event n times.
        for (let k = 0; k < ends.length; k++)
          for (let r = 0; r < registrations; r++) writeListing(conn, listing, frameAt(k));
        record.events *= registrations;
        record.bytes *= registrations;
      }
    } else if (f === 'close-mid-stream') {
      conn.socket.destroy();
      finish(record);
      return;
    }
    if (listing !== cache?.listing) {
      listing.stale = true;
      release(listing);
    }
    conn.socket.write(finalResponse, () => {
      record.sendMs = performance.now() - started;
      finish(record);
    });
  }

  function finish(r: ListingRecord): void {
    stats.listings.push(r);
    if (stats.listings.length > 10_000) stats.listings.splice(0, 5_000);
    opts.onListing?.(r);
  }

  function accept(socket: net.Socket): void {
    stats.accepted++;
    if (fault.mode === 'accept-drop' || (fault.mode === 'flap' && Date.now() < downUntil)) {
      socket.destroy();
      return;
    }
    const conn: Conn = { socket, registered: new Map() };
    conns.add(conn);
    stats.connections = conns.size;
    const decoder = new FrameDecoder();
    let queue = Promise.resolve();
    socket.on('error', () => {});
    socket.on('close', () => {
      conns.delete(conn);
      stats.connections = conns.size;
    });
    socket.on('data', (chunk: Buffer) => {
      let frames: Buffer[];
      try {
        frames = decoder.push(chunk);
      } catch {
        socket.destroy(); // "vici message length ... exceeds ... bytes limit, ignored" and closed
        return;
      }
      for (const data of frames) {
        // One packet at a time per connection, in order, as charon's process_queue.
        queue = queue.then(() => handle(conn, data)).catch(() => void socket.destroy());
      }
    });
  }

  const server = net.createServer(accept);
  let address: string;
  if (opts.socketPath !== undefined) {
    const p = opts.socketPath;
    try {
      if (fs.statSync(p).isSocket()) fs.unlinkSync(p);
    } catch {
      // not there
    }
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(p, () => resolve());
    });
    address = `unix://${p}`;
  } else {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.tcpPort ?? 0, '127.0.0.1', () => resolve());
    });
    address = `tcp://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  }

  return {
    address,
    table,
    stats,
    certs,
    second,
    listSasTimings: () => stats.listings.filter((l) => l.command === 'list-sas'),
    resetStats() {
      stats.listings.length = 0;
      stats.requests = {};
      stats.droppedOversize = 0;
      stats.eventsSent = 0;
    },
    setFaults,
    generateEvents,
    async close() {
      if (genTimer) clearInterval(genTimer);
      if (flapTimer) clearInterval(flapTimer);
      for (const c of conns) c.socket.destroy();
      conns.clear();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

// ---- CLI ----

const USAGE = `usage: node dist/bench/synthetic-charon.js [options]
  --ike-sas N          IKE SAs (default 1000)
  --children C         CHILD SAs per IKE SA (default 2)
  --conns K            connection configs the IKE SAs are spread over (default: one per IKE SA)
  --idle-conns K       extra connection configs without IKE SA (default 0)
  --socket PATH        listen on this unix socket ...
  --tcp-port PORT      ... or on 127.0.0.1:PORT (default: unix socket in a temp dir)
  --seed S             table seed (default 1)
  --event-rate R       generated events per second (rekeys, reconnects; default 0)
  --fault MODE         ${FAULT_MODES.join(', ')}
  --fault-commands L   comma-separated commands the fault applies to (default all)
  --fault-delay-ms MS  delay for --fault slow (default 2000)
  --fault-interval-ms MS  period of --fault flap (default 3000)
  --fault-down-ms MS   how long --fault flap drops connections each period (default half the period)
  --busy-every K       every K-th IKE SA is busy (skipped with noblock)
  --ake-every K        IKE SAs 0, K, 2K, ... negotiated ake1 (strongSwan 6; default none)
  --ake METHOD         the method of ake1 (default ML_KEM_768)
  --road-warrior-every K  IKE SAs 0, K, ... are road warriors (remote-eap-id, remote-vips)
  --if-ids-every K     IKE SAs 0, K, ... and their CHILD SAs have if ids and marks
  --per-cpu-every K    IKE SAs 0, K, ... have per-CPU SAs for net1 (6.0.2+): one per CPU and a fallback
  --per-cpu-cpus C     CPUs with a per-CPU SA of their own (default 2)
  --daemon-version V   what version answers (default 5.9.8)
  --no-certs           do not make certificates (no openssl needed)
  --verbose            one line per listing on stderr
`;

async function cli(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      'ike-sas': { type: 'string', default: '1000' },
      children: { type: 'string', default: '2' },
      conns: { type: 'string' },
      'idle-conns': { type: 'string' },
      socket: { type: 'string' },
      'tcp-port': { type: 'string' },
      seed: { type: 'string' },
      'event-rate': { type: 'string' },
      fault: { type: 'string' },
      'fault-commands': { type: 'string' },
      'fault-delay-ms': { type: 'string' },
      'fault-interval-ms': { type: 'string' },
      'fault-down-ms': { type: 'string' },
      'busy-every': { type: 'string' },
      'ake-every': { type: 'string' },
      ake: { type: 'string' },
      'road-warrior-every': { type: 'string' },
      'if-ids-every': { type: 'string' },
      'per-cpu-every': { type: 'string' },
      'per-cpu-cpus': { type: 'string' },
      'daemon-version': { type: 'string' },
      'no-certs': { type: 'boolean' },
      verbose: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  const int = (v: string | undefined, what: string): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new Error(`--${what}: not a non-negative integer: ${v}`);
    return n;
  };
  const mode = (values.fault ?? 'none') as FaultMode;
  if (!FAULT_MODES.includes(mode)) throw new Error(`--fault: one of ${FAULT_MODES.join(', ')}`);
  let socketPath = values.socket;
  let tmpDir: string | undefined;
  if (socketPath === undefined && values['tcp-port'] === undefined) {
    tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'synthetic-charon-'));
    socketPath = path.join(tmpDir, 'charon.vici');
  }
  const d = await startSyntheticCharon({
    ikeSas: int(values['ike-sas'], 'ike-sas') ?? 1000,
    childrenPerIke: int(values.children, 'children') ?? 2,
    conns: int(values.conns, 'conns'),
    idleConns: int(values['idle-conns'], 'idle-conns'),
    socketPath,
    tcpPort: int(values['tcp-port'], 'tcp-port'),
    seed: int(values.seed, 'seed'),
    eventRate: values['event-rate'] === undefined ? undefined : Number(values['event-rate']),
    faults: {
      mode,
      commands: values['fault-commands']?.split(',').filter((s) => s !== ''),
      delayMs: int(values['fault-delay-ms'], 'fault-delay-ms'),
      intervalMs: int(values['fault-interval-ms'], 'fault-interval-ms'),
      downMs: int(values['fault-down-ms'], 'fault-down-ms'),
    },
    busyEvery: int(values['busy-every'], 'busy-every'),
    features: {
      akeEvery: int(values['ake-every'], 'ake-every'),
      ake: values.ake,
      roadWarriorEvery: int(values['road-warrior-every'], 'road-warrior-every'),
      ifIdsEvery: int(values['if-ids-every'], 'if-ids-every'),
      perCpuEvery: int(values['per-cpu-every'], 'per-cpu-every'),
      perCpuCpus: int(values['per-cpu-cpus'], 'per-cpu-cpus'),
    },
    daemonVersion: values['daemon-version'],
    certs: values['no-certs'] !== true,
    onListing: values.verbose
      ? (r) =>
          process.stderr.write(
            `${r.command}: ${r.events} events, ${(r.bytes / 1e6).toFixed(1)} MB, build ${r.buildMs.toFixed(1)} ms${r.cached ? ' (cached)' : ''}, send ${r.sendMs.toFixed(1)} ms${r.fault ? `, fault ${r.fault}` : ''}\n`,
          )
      : undefined,
  });
  const t = d.table;
  process.stderr.write(
    `synthetic charon ${values['daemon-version'] ?? '5.9.8'} on ${d.address}: ${t.ikeSas.length} IKE SAs x ${t.childrenPerIke} CHILD SAs, ${t.conns + t.idleConns} conns, ${d.certs.length} certs (ready in ${d.stats.prepareMs.toFixed(0)} ms)\n`,
  );
  if (process.send) {
    process.send({ type: 'ready', address: d.address });
    process.on('message', (m: { type?: string }) => {
      if (m.type === 'stats') process.send?.({ type: 'stats', stats: d.stats });
      else if (m.type === 'reset-stats') {
        d.resetStats();
        process.send?.({ type: 'reset' });
      }
    });
    // The parent is the only reason to live: exit when it goes away.
    process.on('disconnect', () => stop());
  } else {
    process.stdout.write(`${d.address}\n`);
  }
  let stopping = false;
  function stop(): void {
    if (stopping) return;
    stopping = true;
    void d.close().finally(() => {
      if (tmpDir) fs.rmSync(tmpDir, { recursive: true, force: true });
      process.exit(0);
    });
  }
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

const invoked = process.argv[1];
if (invoked !== undefined && import.meta.url === pathToFileURL(path.resolve(invoked)).href) {
  cli(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`synthetic-charon: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(2);
  });
}
