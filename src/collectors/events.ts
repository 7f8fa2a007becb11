// Collector `events`: a long-lived subscription on a VICI connection of its own (ike-updown,
// child-updown, ike-rekey, child-rekey, and alert where the daemon has it) that counts what polling
// cannot see, and traffic per child config that never goes backwards across rekeys, reconnects and
// tunnel flaps: the final counters of finished CHILD SAs (from the events, or the last scrape that saw
// them) plus the live CHILD SAs' counters at scrape time.
//
// Bookkeeping, per CHILD SA (keyed by unique id and SPIs, so a restarted daemon's reused ids never
// collide): `credited` is what has been moved into the finished total of its child config. An SA that
// goes down or is rekeyed is credited with its final counters; one that is still listed afterwards
// (a rekeyed SA lingers) or that reappears (skipped by a non-blocking listing) adds only what it
// passed beyond that. An SA that vanishes without an event (missed while disconnected, daemon restart)
// is credited with what the last scrape saw. Values are float64: exact up to 2^53 bytes.
//
// Nothing is counted twice: an SA first seen by a state that began after the SA was installed (an
// exporter that restarted) starts from what it had then (`credited` is set to those counters), so
// its traffic before is not added again; what passed between the last process's last scrape and
// this state's first sight of the SA is not known, and the series restart from 0 (a counter reset).

import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Exposition } from '../metrics/exposition.js';
import { F } from '../metrics/families.js';
import {
  childName,
  isSection,
  parseAddress,
  str,
  subSections,
  ViciClient,
  type ViciSection,
  ViciUnknownEventError,
} from '../vici/index.js';
import { type Collector, describe, type Logger, type ScrapeContext, type TargetEnv } from './collector.js';
import { type ReadResult, readStateFile, STATE_KIND, STATE_VERSION, writeStateFile } from './state-file.js';
import { parseSince } from './stats.js';

export const SUBSCRIBED_EVENTS = ['ike-updown', 'child-updown', 'ike-rekey', 'child-rekey', 'alert'] as const;

const EVENT_NAMES = ['up', 'down', 'rekey'] as const;
const CONN = ['conn'];
const CONN_CHILD = ['conn', 'child'];
type EventName = (typeof EVENT_NAMES)[number];
const EVENT_INDEX: Readonly<Record<EventName, 0 | 1 | 2>> = { up: 0, down: 1, rekey: 2 };

// The state is kept in columns of numbers, one row per connection, child config, CHILD SA and IKE
// SA, not in an object per record: at tens of thousands of tunnels the objects were most of the live
// heap and of what the garbage collector traces (bench/README.md, "Runtime settings").
// Counters come in fours: bytes in, bytes out, packets in, packets out.

/** A child config's row (conn, child), 16 numbers: */
const T_EVENTS = 0; // CHILD SA events: up, down, rekey (3)
const T_LIVE_IN = 3; // the scrape that T_LIVE belongs to
const T_FINISHED = 4; // credited by finished or vanished CHILD SAs (4)
const T_LIVE = 8; // sum of the live CHILD SAs of scrape T_LIVE_IN (4)
const T_REPORTED = 12; // what was last written: a total never goes backwards (4)
const T_WIDTH = 16;

/** A CHILD SA's row, 8 numbers: what it was credited with (4), what the last listing showed (4). */
const S_CREDITED = 0;
const S_LAST = 4;
const S_WIDTH = 8;
/**
 * ... and 9 integers: its child config's row, the scrape it was listed in, scrapes absent, retired,
 * its SPIs (in, out; as 32-bit integers), its IKE SA's unique id (-1: not known), F_ flags, and the
 * scrape during which its row was made.
 */
const S_TOTALS = 0;
const S_LISTED_IN = 1;
const S_ABSENT = 2;
const S_RETIRED = 3;
const S_SPI_IN = 4;
const S_SPI_OUT = 5;
const S_IKE = 6;
const S_FLAGS = 7;
const S_BORN = 8;
const S_INTS = 9;

/**
 * An IKE SA's row, 7 integers: its connection's row, its SPI, listed in, absent, F_ flags, born, and
 * the id of the IKE SA an ike-rekey event said it was rekeyed into (-1: none).
 */
const I_CONN = 0;
const I_SPI = 1;
const I_LISTED_IN = 2;
const I_ABSENT = 3;
const I_FLAGS = 4;
const I_BORN = 5;
const I_NEXT = 6;
const I_INTS = 7;

// Flags of an SA's row. Each SA's start and end are counted once, by its event or, when the
// subscription was away, by the listings (reconciliation); whichever comes second sees the flag.
/** Its start (up, or the new half of a rekey) is counted. */
const F_START = 1;
/** Its end (down, or the old half of a rekey) is counted. */
const F_END = 2;
/**
 * Missing from a reconciling listing: a down if the next listing lacks it too (a non-blocking
 * listing skips an SA that is busy at that moment, and a skipped SA is not a down).
 */
const F_PENDING = 4;
/** (IKE SA) Holds a CHILD SA that another IKE SA held: the new half of an IKE rekey. */
const F_INHERITS = 8;
/** (IKE SA) A CHILD SA it held is held by another IKE SA now: the old half of an IKE rekey. */
const F_MOVED = 16;

/** How many scrapes a finished or vanished SA is remembered, in case it is listed again. */
const FORGET_AFTER_SCRAPES = 5;

/** a[i] += 1; the new value. */
function inc(a: Float64Array | Int32Array, i: number): number {
  a[i] = (a[i] as number) + 1;
  return a[i] as number;
}

/** Counters of the CHILD SA being listed or reported by an event. */
const SCRATCH = new Float64Array(4);

function counters(child: ViciSection): Float64Array {
  const n = (k: string) => {
    const v = Number(str(child[k]) ?? 0);
    return Number.isFinite(v) ? v : 0;
  };
  SCRATCH[0] = n('bytes-in');
  SCRATCH[1] = n('bytes-out');
  SCRATCH[2] = n('packets-in');
  SCRATCH[3] = n('packets-out');
  return SCRATCH;
}

/** A CHILD SA's unique id: a number as charon gives it (a string only if it is not one). */
function saId(child: ViciSection): number | string {
  const id = str(child.uniqueid) ?? '';
  const n = Number(id);
  return id !== '' && Number.isSafeInteger(n) ? n : id;
}

/** An SPI (hex) as a 32-bit integer; 0 for none or for one that is not hex. */
function spi(child: ViciSection, key: 'spi-in' | 'spi-out'): number {
  return Number.parseInt(str(child[key]) ?? '', 16) | 0;
}

/** An IKE SA's initiator SPI, its low 32 bits (it tells a restarted daemon's reused ids apart). */
function ikeSpi(ike: ViciSection): number {
  const v = str(ike['initiator-spi']) ?? '';
  return Number.parseInt(v.slice(-8), 16) | 0;
}

/** An IKE SA id as kept in a CHILD SA's row: -1 when it is not a 31-bit number. */
function ikeIdInt(id: number | string | undefined): number {
  return typeof id === 'number' && id >= 0 && id <= 0x7fffffff ? id : -1;
}

function isSectionValue(v: unknown): v is ViciSection {
  return v !== undefined && typeof v === 'object' && v !== null && !Array.isArray(v) && !Buffer.isBuffer(v);
}

/** The one IKE section of an event message (its name is the IKE config name). */
function ikeOf(msg: ViciSection): [string, ViciSection] | undefined {
  return subSections(msg)[0];
}

/** One alert series. */
export interface Series {
  value: number;
}

/**
 * A typed array with room for `n` elements: the same one, or a copy a quarter bigger (not twice:
 * the state of 50,000 tunnels is ~25 MB of rows, and doubling would hold up to as much again unused).
 */
function room<A extends Float64Array | Int32Array>(a: A, n: number): A {
  if (n <= a.length) return a;
  const bigger = new (a.constructor as new (n: number) => A)(Math.max(n, Math.ceil(1.25 * a.length)));
  bigger.set(a);
  return bigger;
}

export interface EventStateOptions {
  /** When this state began, ms since the epoch (default: now). */
  readonly since?: number;
  /** The clock (ms since the epoch). */
  readonly now?: () => number;
}

/** What a state file holds of an EventState (JSON; see EventState.snapshot). */
export interface EventSnapshot {
  /** IKE SA events per connection: up, down, rekey. */
  conns: Record<string, [number, number, number]>;
  /** Per child config: conn, child, CHILD SA events (3), finished (4), reported (4). */
  children: [string, string, number[], number[], number[]][];
  /**
   * Per CHILD SA: id, SPI in, SPI out, index into children, credited (4), last (4), retired, absent,
   * its IKE SA's id (-1: not known), flags.
   */
  sas: [number | string, number, number, number, number[], number[], number, number, number, number][];
  /** Per IKE SA: id, SPI, connection, flags, absent, the id it was rekeyed into (-1: none). */
  ikes: [number | string, number, string, number, number, number][];
  /** Alerts by type. */
  alerts: Record<string, number>;
}

function isFlags(v: unknown): v is number {
  return Number.isInteger(v) && (v as number) >= 0 && (v as number) < 32;
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0;
}

function counts(v: unknown, n: number, what: string): number[] {
  if (!Array.isArray(v) || v.length !== n || !v.every(isCount)) throw new Error(`${what}: not ${n} counts`);
  return v as number[];
}

export class EventState {
  private readonly since: number;
  private readonly now: () => number;
  constructor(opts: EventStateOptions = {}) {
    this.now = opts.now ?? Date.now;
    this.since = opts.since ?? this.now();
  }

  /** Connection rows by conn: their names and IKE SA events (3 per row). */
  private readonly conns = new Map<string, number>();
  private readonly connNames: string[] = [];
  private connEvents = new Float64Array(3 * 64);
  /**
   * Child config rows by conn, then child: their conn and child, and T_ numbers. Two
   * levels, not one key `conn + child`: the joined key had to be made and hashed per child and
   * scrape (120 ms a scrape at 50,000 connections of 2 children, where the conn is looked up once).
   */
  private readonly totals = new Map<string, Map<string, number>>();
  private readonly totalConn: string[] = [];
  private readonly totalChild: string[] = [];
  private total = new Float64Array(T_WIDTH * 64);
  /** CHILD SA rows by unique id (their SPIs tell a restarted daemon's reused ids apart). */
  private readonly sas = new Map<number | string, number>();
  /** The key of each CHILD SA row; undefined: a free row (listed in `freeRows`). */
  private readonly saKeys: (number | string | undefined)[] = [];
  private readonly freeRows: number[] = [];
  private sa = new Float64Array(S_WIDTH * 64);
  private saInt = new Int32Array(S_INTS * 64);
  /** IKE SA rows by unique id, as for CHILD SAs. */
  private readonly ikes = new Map<number | string, number>();
  private readonly ikeKeys: (number | string | undefined)[] = [];
  private readonly ikeFree: number[] = [];
  private ikeInt = new Int32Array(I_INTS * 64);
  /** The scrape of the last complete listing (0: none yet). */
  private lastListing = 0;
  /** Whether this scrape's listing is the first (its SAs are where counting starts). */
  private baseline = true;
  /** Whether this scrape's listing counts what the events did not (the subscription was away). */
  private reconciling = false;
  /** Whether this state was restored from a snapshot (whose SAs are where counting started). */
  private restored = false;
  /** by alert type */
  readonly alerts = new Map<string, Series>();
  private scrapeNo = 0;
  received = 0;

  private conn(conn: string): number {
    let c = this.conns.get(conn);
    if (c === undefined) {
      c = this.connNames.push(conn) - 1;
      this.connEvents = room(this.connEvents, 3 * (c + 1));
      this.conns.set(conn, c);
    }
    return c;
  }

  /** How many IKE SA events of this kind the connection had (for tests). */
  ikeEvents(conn: string, event: EventName): number | undefined {
    const c = this.conns.get(conn);
    return c === undefined ? undefined : this.connEvents[3 * c + EVENT_INDEX[event]];
  }

  /** How many CHILD SA events of this kind the child config had. */
  childEvents(conn: string, child: string, event: EventName): number | undefined {
    const t = this.totals.get(conn)?.get(child);
    return t === undefined ? undefined : this.total[T_WIDTH * t + T_EVENTS + EVENT_INDEX[event]];
  }

  /** CHILD SA rows in use and in all (for tests: rows of forgotten SAs are reused). */
  saRows(): { used: number; all: number } {
    return { used: this.sas.size, all: this.saKeys.length };
  }

  /** A child config's traffic as last reported: bytes in, bytes out, packets in, packets out. */
  reported(conn: string, child: string): number[] | undefined {
    const t = this.totals.get(conn)?.get(child);
    if (t === undefined) return undefined;
    const at = T_WIDTH * t + T_REPORTED;
    return Array.from(this.total.subarray(at, at + 4));
  }

  private childTotals(conn: string, child: string): number {
    return this.childRow(this.childrenOf(conn), conn, child);
  }

  private childrenOf(conn: string): Map<string, number> {
    let m = this.totals.get(conn);
    if (m === undefined) {
      m = new Map();
      this.totals.set(conn, m);
    }
    return m;
  }

  private childRow(children: Map<string, number>, conn: string, child: string): number {
    let t = children.get(child);
    if (t === undefined) {
      t = this.totalConn.push(conn) - 1;
      this.totalChild.push(child);
      this.total = room(this.total, T_WIDTH * (t + 1));
      this.total.fill(0, T_WIDTH * t, T_WIDTH * (t + 1));
      this.total[T_WIDTH * t + T_LIVE_IN] = -1;
      children.set(child, t);
    }
    return t;
  }

  /**
   * The row of the CHILD SA `sa` of child config (conn, child), made if it has none; `ike` is the
   * unique id of its IKE SA (-1: not known); `listed`: it is being listed (not reported by an event).
   */
  private entry(sa: ViciSection, conn: string, child: string, ike = -1, listed = false): number {
    const id = saId(sa);
    const spiIn = spi(sa, 'spi-in');
    const spiOut = spi(sa, 'spi-out');
    let s = this.sas.get(id);
    if (s !== undefined) {
      const i = S_INTS * s;
      if (this.saInt[i + S_SPI_IN] === spiIn && this.saInt[i + S_SPI_OUT] === spiOut) return s;
      // Its id with other SPIs: the daemon restarted and counts ids from 1 again. The SA that had the
      // id is gone: it is credited with what it was last seen with, its end is counted if no event
      // did (none can come now), and the row is the new SA's.
      if (this.saInt[i + S_RETIRED] === 0) this.credit(s, this.sa, S_WIDTH * s + S_LAST);
      this.ended(
        this.total,
        T_WIDTH * (this.saInt[i + S_TOTALS] as number) + T_EVENTS,
        this.saInt,
        i + S_FLAGS,
      );
      this.forget(s, id);
    }
    const t = this.childTotals(conn, child);
    s = this.freeRows.pop() ?? this.saKeys.length;
    this.sa = room(this.sa, S_WIDTH * (s + 1));
    this.saInt = room(this.saInt, S_INTS * (s + 1));
    this.sa.fill(0, S_WIDTH * s, S_WIDTH * (s + 1));
    const i = S_INTS * s;
    this.saInt[i + S_TOTALS] = t;
    this.saInt[i + S_LISTED_IN] = -1;
    this.saInt[i + S_ABSENT] = 0;
    this.saInt[i + S_RETIRED] = 0;
    this.saInt[i + S_SPI_IN] = spiIn;
    this.saInt[i + S_SPI_OUT] = spiOut;
    this.saInt[i + S_IKE] = ike;
    this.saInt[i + S_FLAGS] = 0;
    this.saInt[i + S_BORN] = this.scrapeNo;
    this.saKeys[s] = id;
    this.sas.set(id, s);
    // Installed before this state began: what it had by now was counted by an earlier process, or
    // never will be; only what it passes from here on is this state's. A listing does not count its
    // start either (an event that reports it came after this state began, and counts).
    if (this.predates(sa, 'install-time')) {
      this.sa.set(counters(sa), S_WIDTH * s + S_CREDITED);
      if (listed) this.saInt[i + S_FLAGS] = F_START;
    }
    return s;
  }

  /** The row of IKE SA `ike` of connection `conn`, made if it has none. */
  private ikeEntry(conn: string, ike: ViciSection, listed = false): number {
    const id = saId(ike);
    const sp = ikeSpi(ike);
    let r = this.ikes.get(id);
    if (r !== undefined) {
      const i = I_INTS * r;
      if (this.ikeInt[i + I_SPI] === sp) return r;
      // a restarted daemon's reused id: the IKE SA that had it is gone
      this.ended(this.connEvents, 3 * (this.ikeInt[i + I_CONN] as number), this.ikeInt, i + I_FLAGS);
      this.forgetIke(r, id);
    }
    const c = this.conn(conn);
    r = this.ikeFree.pop() ?? this.ikeKeys.length;
    this.ikeInt = room(this.ikeInt, I_INTS * (r + 1));
    const i = I_INTS * r;
    this.ikeInt[i + I_CONN] = c;
    this.ikeInt[i + I_SPI] = sp;
    this.ikeInt[i + I_LISTED_IN] = -1;
    this.ikeInt[i + I_ABSENT] = 0;
    this.ikeInt[i + I_FLAGS] = listed && this.predates(ike, 'established') ? F_START : 0;
    this.ikeInt[i + I_BORN] = this.scrapeNo;
    this.ikeInt[i + I_NEXT] = -1;
    this.ikeKeys[r] = id;
    this.ikes.set(id, r);
    return r;
  }

  private forgetIke(r: number, id: number | string): void {
    this.ikes.delete(id);
    this.ikeKeys[r] = undefined;
    this.ikeFree.push(r);
  }

  /**
   * An SA is gone for certain: count its end (a down, in events[at + 1]) unless it was counted; its
   * flags are flags[f].
   */
  private ended(events: Float64Array, at: number, flags: Int32Array, f: number): void {
    const v = flags[f] as number;
    if ((v & F_END) === 0) inc(events, at + EVENT_INDEX.down);
    flags[f] = (v | F_END) & ~F_PENDING;
  }

  /**
   * Count a start (`up`) or end (`down`) of an SA whose flags are flags[f], unless counted before;
   * events[at..at+2] are its config's up, down, rekey.
   */
  private count(events: Float64Array, at: number, flags: Int32Array, f: number, what: 'up' | 'down'): void {
    const bit = what === 'up' ? F_START : F_END;
    const v = flags[f] as number;
    if ((v & bit) === 0) inc(events, at + EVENT_INDEX[what]);
    flags[f] = (v | bit) & ~F_PENDING;
  }

  /**
   * A rekey, old half at flags[o], new half at flags[n] (-1: not known): counted unless either half
   * was counted before.
   */
  private rekeyed(events: Float64Array, at: number, flags: Int32Array, o: number, n: number): void {
    const done =
      (o >= 0 && ((flags[o] as number) & F_END) !== 0) || (n >= 0 && ((flags[n] as number) & F_START) !== 0);
    if (!done) inc(events, at + EVENT_INDEX.rekey);
    if (o >= 0) flags[o] = ((flags[o] as number) | F_END) & ~F_PENDING;
    if (n >= 0) flags[n] = (flags[n] as number) | F_START;
  }

  /**
   * Whether the SA may have been made before this state began (`install-time` or `established`:
   * whole seconds since; one made within a second after counts as before, so nothing is ever
   * counted twice).
   */
  private predates(sa: ViciSection, key: 'install-time' | 'established'): boolean {
    const t = str(sa[key]);
    if (t === undefined || t === '') return false;
    const ago = Number(t);
    return Number.isFinite(ago) && this.now() - (ago + 1) * 1000 < this.since;
  }

  /** Row s (of the SA with key id) is free again. */
  private forget(s: number, id: number | string): void {
    this.sas.delete(id);
    this.saKeys[s] = undefined;
    this.freeRows.push(s);
  }

  /**
   * Move an SA's counters (c[at..at+3]) beyond what it was already credited with into its config's
   * total.
   */
  private credit(s: number, c: Float64Array, at: number): void {
    const sa = this.sa;
    const cr = S_WIDTH * s + S_CREDITED;
    const fin = T_WIDTH * (this.saInt[S_INTS * s + S_TOTALS] as number) + T_FINISHED;
    for (let i = 0; i < 4; i++) {
      const d = (c[at + i] as number) - (sa[cr + i] as number);
      if (d > 0) {
        this.total[fin + i] = (this.total[fin + i] as number) + d;
        sa[cr + i] = c[at + i] as number;
      }
    }
    this.saInt[S_INTS * s + S_RETIRED] = 1;
  }

  /** A CHILD SA is gone (down) or replaced (the old half of a rekey): credit its final counters. */
  private finish(conn: string, name: string, child: ViciSection, ike: number): number {
    const s = this.entry(child, conn, name, ike);
    this.credit(s, counters(child), 0);
    return s;
  }

  /** Handle one event message. */
  onEvent(name: string, msg: ViciSection): void {
    this.received++;
    if (name === 'alert') {
      const type = str(msg.type) ?? '';
      let a = this.alerts.get(type);
      if (a === undefined) {
        a = { value: 0 };
        this.alerts.set(type, a);
      }
      a.value++;
      return;
    }
    const ike = ikeOf(msg);
    if (ike === undefined) return;
    const [conn, sa] = ike;
    const updown = str(msg.up) === 'yes' ? 'up' : 'down';
    // (rows are made before their arrays are passed on: making one may grow them)
    if (name === 'ike-updown') {
      const f = I_INTS * this.ikeEntry(conn, sa) + I_FLAGS;
      const at = 3 * this.conn(conn);
      this.count(this.connEvents, at, this.ikeInt, f, updown);
    } else if (name === 'ike-rekey') {
      const o = isSectionValue(sa.old) ? I_INTS * this.ikeEntry(conn, sa.old) + I_FLAGS : -1;
      const n = isSectionValue(sa.new) ? I_INTS * this.ikeEntry(conn, sa.new) + I_FLAGS : -1;
      // where the old one's CHILD SAs went: a later move of theirs starts from the new one
      if (o >= 0 && n >= 0) this.ikeInt[o - I_FLAGS + I_NEXT] = ikeIdInt(saId(sa.new as ViciSection));
      const at = 3 * this.conn(conn);
      this.rekeyed(this.connEvents, at, this.ikeInt, o, n);
    } else if (name === 'child-updown') {
      const ikeId = ikeIdInt(saId(sa));
      for (const [key, child] of subSections(sa['child-sas'])) {
        const child_ = childName(key, child);
        const s =
          updown === 'down'
            ? this.finish(conn, child_, child, ikeId)
            : this.entry(child, conn, child_, ikeId);
        const at = T_WIDTH * (this.saInt[S_INTS * s + S_TOTALS] as number) + T_EVENTS;
        this.count(this.total, at, this.saInt, S_INTS * s + S_FLAGS, updown);
      }
    } else if (name === 'child-rekey') {
      const ikeId = ikeIdInt(saId(sa));
      // Here the section is the plain child name, holding `old` and `new`.
      for (const [key, pair] of subSections(sa['child-sas'])) {
        const old = pair.old;
        const child_ = str((old as ViciSection | undefined)?.name) ?? key;
        const o = isSectionValue(old) ? S_INTS * this.finish(conn, child_, old, ikeId) + S_FLAGS : -1;
        const n = isSectionValue(pair.new)
          ? S_INTS * this.entry(pair.new, conn, child_, ikeId) + S_FLAGS
          : -1;
        const at = T_WIDTH * this.childTotals(conn, child_) + T_EVENTS;
        this.rekeyed(this.total, at, this.saInt, o, n);
      }
    }
  }

  /**
   * A scrape begins. `reconcile`: the subscription was not there all the time since the last listing
   * (lost, or not yet registered, at one of the two), so its listing counts the starts and ends no
   * event counted. The first listing of a new state counts none: it is where counting starts.
   */
  beginScrape(reconcile = false): void {
    this.scrapeNo++;
    this.baseline = this.lastListing === 0 && !this.restored;
    this.reconciling = reconcile && !this.baseline;
  }

  /** An IKE SA as listed in this scrape; its row. */
  onListedIke(conn: string, ike: ViciSection): number {
    const r = this.ikeEntry(conn, ike, true);
    const i = I_INTS * r;
    const ii = this.ikeInt;
    ii[i + I_FLAGS] = this.seen(ii[i + I_FLAGS] as number, ii[i + I_LISTED_IN] as number);
    ii[i + I_LISTED_IN] = this.scrapeNo;
    ii[i + I_ABSENT] = 0;
    return r;
  }

  /**
   * An SA's flags once it is listed: not pending any more; started for certain if it is the first
   * listing, or if it was listed the time before too while the events were there all along (an up
   * event would have come by now).
   */
  private seen(flags: number, listedIn: number): number {
    let f = flags & ~F_PENDING;
    if (this.baseline || (!this.reconciling && listedIn === this.lastListing && listedIn > 0)) f |= F_START;
    return f;
  }

  /** A CHILD SA as listed in this scrape; `ike` is its IKE SA's row (-1: not known). */
  onListed(conn: string, name: string, child: ViciSection, ike = -1): void {
    const ikeId = ike < 0 ? -1 : ikeIdInt(this.ikeKeys[ike]);
    const s = this.entry(child, conn, name, ikeId, true);
    const i = S_INTS * s;
    const ints = this.saInt;
    ints[i + S_FLAGS] = this.seen(ints[i + S_FLAGS] as number, ints[i + S_LISTED_IN] as number);
    ints[i + S_LISTED_IN] = this.scrapeNo;
    ints[i + S_ABSENT] = 0;
    const was = ints[i + S_IKE] as number;
    if (ikeId !== -1 && was !== ikeId) {
      // Held by another IKE SA than before: that one (or the last of the IKE SAs the events say it
      // was rekeyed into) was rekeyed into this one.
      if (was !== -1) {
        const ii = this.ikeInt;
        let old = this.ikes.get(was);
        for (let hops = 0; old !== undefined && hops < 16; hops++) {
          const next = ii[I_INTS * old + I_NEXT] as number;
          if (next === -1 || next === ikeId) break;
          old = this.ikes.get(next);
        }
        if (old !== undefined && old !== ike) {
          ii[I_INTS * old + I_FLAGS] = (ii[I_INTS * old + I_FLAGS] as number) | F_MOVED;
          ii[I_INTS * ike + I_FLAGS] = (ii[I_INTS * ike + I_FLAGS] as number) | F_INHERITS;
        }
      }
      ints[i + S_IKE] = ikeId;
    }
    const c = counters(child);
    if (ints[i + S_RETIRED] === 1) this.credit(s, c, 0);
    else this.sa.set(c, S_WIDTH * s + S_LAST);
  }

  /**
   * After a complete listing: credit SAs that vanished unseen, count the starts and ends the events
   * missed (when reconciling), forget old SAs, update the totals.
   */
  endScrape(listed: boolean): void {
    const now = this.scrapeNo;
    const sa = this.sa;
    const total = this.total;
    if (listed) {
      if (this.reconciling) this.reconcileChildren();
      const ints = this.saInt;
      for (let s = 0; s < this.saKeys.length; s++) {
        const id = this.saKeys[s];
        if (id === undefined) continue;
        const i = S_INTS * s;
        const last = S_WIDTH * s + S_LAST;
        if (ints[i + S_LISTED_IN] === now) {
          if (ints[i + S_RETIRED] === 0) {
            const t = T_WIDTH * (ints[i + S_TOTALS] as number);
            if (total[t + T_LIVE_IN] !== now) {
              total.fill(0, t + T_LIVE, t + T_LIVE + 4);
              total[t + T_LIVE_IN] = now;
            }
            // beyond what it was credited with: 0 but for an SA older than this state
            const cr = S_WIDTH * s + S_CREDITED;
            for (let k = 0; k < 4; k++) {
              const d = (sa[last + k] as number) - (sa[cr + k] as number);
              if (d > 0) total[t + T_LIVE + k] = (total[t + T_LIVE + k] as number) + d;
            }
          }
          continue;
        }
        // made by an event during this listing: too new for it to show
        if (ints[i + S_BORN] === now) continue;
        if (ints[i + S_RETIRED] === 0) this.credit(s, sa, last);
        const at = T_WIDTH * (ints[i + S_TOTALS] as number) + T_EVENTS;
        this.absent(total, at, ints, i + S_FLAGS);
        if (inc(ints, i + S_ABSENT) > FORGET_AFTER_SCRAPES) this.forget(s, id);
      }
      this.ikesListed();
      this.lastListing = now;
    }
    for (let t = 0; t < this.totalConn.length; t++) {
      const r = T_WIDTH * t;
      const live = listed && total[r + T_LIVE_IN] === now;
      for (let k = 0; k < 4; k++) {
        const v = (total[r + T_FINISHED + k] as number) + (live ? (total[r + T_LIVE + k] as number) : 0);
        // Never backwards: a total only stands still when what it saw last is gone from view.
        if (v > (total[r + T_REPORTED + k] as number)) total[r + T_REPORTED + k] = v;
      }
    }
  }

  /**
   * An SA (flags at flags[f]) missing from a complete listing, events[at..at+2] its config's: a down
   * if a reconciling listing missed it before, pending if this one reconciles. Else its event counts
   * it (however many listings skip an SA that is busy, its end still has its event).
   */
  private absent(events: Float64Array, at: number, flags: Int32Array, f: number): void {
    const v = flags[f] as number;
    if ((v & F_END) !== 0) return;
    if ((v & F_PENDING) !== 0) this.ended(events, at, flags, f);
    else if (this.reconciling) flags[f] = v | F_PENDING;
  }

  /**
   * Reconciling: each CHILD SA listed whose start no event counted came up while the events were
   * away, as the new half of a rekey if an uncounted CHILD SA of the same child config and IKE SA is
   * missing now (that one is the old half), else as an up.
   */
  private reconcileChildren(): void {
    const now = this.scrapeNo;
    const ints = this.saInt;
    const gone = new Map<string, number[]>();
    const fresh: number[] = [];
    for (let s = 0; s < this.saKeys.length; s++) {
      if (this.saKeys[s] === undefined) continue;
      const i = S_INTS * s;
      const f = ints[i + S_FLAGS] as number;
      if (ints[i + S_LISTED_IN] === now) {
        if ((f & F_START) === 0) fresh.push(s);
      } else if (ints[i + S_BORN] !== now && (f & (F_END | F_PENDING)) === 0) {
        const k = `${ints[i + S_IKE]}/${ints[i + S_TOTALS]}`;
        const l = gone.get(k);
        if (l === undefined) gone.set(k, [s]);
        else l.push(s);
      }
    }
    for (const s of fresh) {
      const i = S_INTS * s;
      const at = T_WIDTH * (ints[i + S_TOTALS] as number) + T_EVENTS;
      const old = gone.get(`${ints[i + S_IKE]}/${ints[i + S_TOTALS]}`)?.pop();
      if (old !== undefined) this.rekeyed(this.total, at, ints, S_INTS * old + S_FLAGS, i + S_FLAGS);
      else this.count(this.total, at, ints, i + S_FLAGS, 'up');
    }
  }

  /** After a complete listing, the IKE SAs: as the CHILD SAs, an IKE SA rekeyed when its CHILD SAs moved. */
  private ikesListed(): void {
    const now = this.scrapeNo;
    const ii = this.ikeInt;
    const ce = this.connEvents;
    for (let r = 0; r < this.ikeKeys.length; r++) {
      const id = this.ikeKeys[r];
      if (id === undefined) continue;
      const i = I_INTS * r;
      const f = ii[i + I_FLAGS] as number;
      const at = 3 * (ii[i + I_CONN] as number);
      if (ii[i + I_LISTED_IN] === now) {
        if (this.reconciling && (f & F_START) === 0) {
          if ((f & F_INHERITS) !== 0) this.rekeyed(ce, at, ii, -1, i + I_FLAGS);
          else this.count(ce, at, ii, i + I_FLAGS, 'up');
        }
        continue;
      }
      if (ii[i + I_BORN] === now) continue;
      // its CHILD SAs are another's now: the old half of a rekey, counted with the new half
      if (this.reconciling && (f & (F_MOVED | F_END)) === F_MOVED) ii[i + I_FLAGS] = f | F_END;
      else this.absent(ce, at, ii, i + I_FLAGS);
      if (inc(ii, i + I_ABSENT) > FORGET_AFTER_SCRAPES) this.forgetIke(r, id);
    }
  }

  /** The state as a state file keeps it (plain JSON data). */
  snapshot(): EventSnapshot {
    const conns: EventSnapshot['conns'] = {};
    for (const [name, c] of this.conns)
      conns[name] = [this.connEvents[3 * c], this.connEvents[3 * c + 1], this.connEvents[3 * c + 2]] as [
        number,
        number,
        number,
      ];
    const children: EventSnapshot['children'] = [];
    const index = new Map<number, number>();
    for (const [conn, m] of this.totals)
      for (const [child, t] of m) {
        const r = T_WIDTH * t;
        index.set(t, children.length);
        const part = (at: number, n: number) => Array.from(this.total.subarray(r + at, r + at + n));
        children.push([conn, child, part(T_EVENTS, 3), part(T_FINISHED, 4), part(T_REPORTED, 4)]);
      }
    const sas: EventSnapshot['sas'] = [];
    for (let s = 0; s < this.saKeys.length; s++) {
      const id = this.saKeys[s];
      if (id === undefined) continue;
      const i = S_INTS * s;
      const r = S_WIDTH * s;
      sas.push([
        id,
        this.saInt[i + S_SPI_IN] as number,
        this.saInt[i + S_SPI_OUT] as number,
        index.get(this.saInt[i + S_TOTALS] as number) as number,
        Array.from(this.sa.subarray(r + S_CREDITED, r + S_CREDITED + 4)),
        Array.from(this.sa.subarray(r + S_LAST, r + S_LAST + 4)),
        this.saInt[i + S_RETIRED] as number,
        this.saInt[i + S_ABSENT] as number,
        this.saInt[i + S_IKE] as number,
        this.saInt[i + S_FLAGS] as number,
      ]);
    }
    const connNames: string[] = [];
    for (const [name, c] of this.conns) connNames[c] = name;
    const ikes: EventSnapshot['ikes'] = [];
    for (let r = 0; r < this.ikeKeys.length; r++) {
      const id = this.ikeKeys[r];
      if (id === undefined) continue;
      const i = I_INTS * r;
      const ii = this.ikeInt;
      ikes.push([
        id,
        ii[i + I_SPI] as number,
        connNames[ii[i + I_CONN] as number] as string,
        ii[i + I_FLAGS] as number,
        ii[i + I_ABSENT] as number,
        ii[i + I_NEXT] as number,
      ]);
    }
    const alerts: Record<string, number> = {};
    for (const [type, a] of this.alerts) alerts[type] = a.value;
    return { conns, children, sas, ikes, alerts };
  }

  /**
   * The state a snapshot describes, checked value by value: a snapshot that does not hold together
   * throws (a corrupt file), it never gives wrong numbers. Every CHILD SA its process had counted is
   * in it, so an SA that is not was never counted, however old it is: the restored state begins at 0.
   */
  static restore(snap: EventSnapshot, opts: Pick<EventStateOptions, 'now'> = {}): EventState {
    if (typeof snap !== 'object' || snap === null) throw new Error('not an object');
    const st = new EventState({ since: 0, now: opts.now });
    st.restored = true;
    if (typeof snap.conns !== 'object' || snap.conns === null || Array.isArray(snap.conns))
      throw new Error('conns: not an object');
    for (const [name, ev] of Object.entries(snap.conns)) {
      const c = st.conn(name);
      st.connEvents.set(counts(ev, 3, `conns.${name}`), 3 * c);
    }
    if (!Array.isArray(snap.children)) throw new Error('children: not a list');
    const rows: number[] = [];
    for (const [k, row] of snap.children.entries()) {
      if (!Array.isArray(row) || typeof row[0] !== 'string' || typeof row[1] !== 'string')
        throw new Error(`children[${k}]: not [conn, child, ...]`);
      const t = st.childTotals(row[0], row[1]);
      const r = T_WIDTH * t;
      st.total.set(counts(row[2], 3, `children[${k}] events`), r + T_EVENTS);
      st.total.set(counts(row[3], 4, `children[${k}] finished`), r + T_FINISHED);
      st.total.set(counts(row[4], 4, `children[${k}] reported`), r + T_REPORTED);
      rows.push(t);
    }
    if (!Array.isArray(snap.sas)) throw new Error('sas: not a list');
    for (const [k, row] of snap.sas.entries()) {
      const [id, spiIn, spiOut, child, credited, last, retired, absent, ike, flags] = Array.isArray(row)
        ? row
        : [];
      const t = rows[child as number];
      if (
        !(typeof id === 'string' || Number.isSafeInteger(id)) ||
        !Number.isInteger(spiIn) ||
        !Number.isInteger(spiOut) ||
        t === undefined ||
        (retired !== 0 && retired !== 1) ||
        !Number.isInteger(absent) ||
        !Number.isInteger(ike) ||
        !isFlags(flags) ||
        st.sas.has(id as number | string)
      )
        throw new Error(`sas[${k}]: not a CHILD SA row`);
      const s = st.saKeys.length;
      st.sa = room(st.sa, S_WIDTH * (s + 1));
      st.saInt = room(st.saInt, S_INTS * (s + 1));
      st.sa.set(counts(credited, 4, `sas[${k}] credited`), S_WIDTH * s + S_CREDITED);
      st.sa.set(counts(last, 4, `sas[${k}] last`), S_WIDTH * s + S_LAST);
      const i = S_INTS * s;
      st.saInt[i + S_TOTALS] = t;
      st.saInt[i + S_LISTED_IN] = -1;
      st.saInt[i + S_ABSENT] = absent as number;
      st.saInt[i + S_RETIRED] = retired;
      st.saInt[i + S_SPI_IN] = spiIn as number;
      st.saInt[i + S_SPI_OUT] = spiOut as number;
      st.saInt[i + S_IKE] = ike as number;
      st.saInt[i + S_FLAGS] = flags as number;
      st.saInt[i + S_BORN] = 0;
      st.saKeys[s] = id as number | string;
      st.sas.set(id as number | string, s);
    }
    if (!Array.isArray(snap.ikes)) throw new Error('ikes: not a list');
    for (const [k, row] of snap.ikes.entries()) {
      const [id, sp, conn, flags, absent, next] = Array.isArray(row) ? row : [];
      if (
        !(typeof id === 'string' || Number.isSafeInteger(id)) ||
        !Number.isInteger(sp) ||
        typeof conn !== 'string' ||
        !isFlags(flags) ||
        !Number.isInteger(absent) ||
        !Number.isInteger(next) ||
        st.ikes.has(id as number | string)
      )
        throw new Error(`ikes[${k}]: not an IKE SA row`);
      const r = st.ikeKeys.length;
      const c = st.conn(conn);
      st.ikeInt = room(st.ikeInt, I_INTS * (r + 1));
      const i = I_INTS * r;
      st.ikeInt[i + I_CONN] = c;
      st.ikeInt[i + I_SPI] = sp as number;
      st.ikeInt[i + I_LISTED_IN] = -1;
      st.ikeInt[i + I_ABSENT] = absent as number;
      st.ikeInt[i + I_FLAGS] = flags as number;
      st.ikeInt[i + I_BORN] = 0;
      st.ikeInt[i + I_NEXT] = next as number;
      st.ikeKeys[r] = id as number | string;
      st.ikes.set(id as number | string, r);
    }
    if (typeof snap.alerts !== 'object' || snap.alerts === null || Array.isArray(snap.alerts))
      throw new Error('alerts: not an object');
    for (const [type, n] of Object.entries(snap.alerts)) {
      if (!isCount(n)) throw new Error(`alerts.${type}: not a count`);
      st.alerts.set(type, { value: n });
    }
    return st;
  }

  /** Make sure a configured connection and its configured children have series from the start. */
  known(conn: string, children: readonly string[]): void {
    this.conn(conn);
    if (children.length === 0) return;
    const m = this.childrenOf(conn);
    for (const child of children) this.childRow(m, conn, child);
  }

  /** Write the event counters and the traffic per child config (after endScrape). */
  write(out: Exposition): void {
    const ce = this.connEvents;
    for (let c = 0; c < this.connNames.length; c++) {
      const l = out.labels(CONN, [this.connNames[c] as string]);
      for (let i = 0; i < 3; i++) out.write(F.ikeSaEvents, ce[3 * c + i], l, EVENT_NAMES[i]);
    }
    const total = this.total;
    for (let t = 0; t < this.totalConn.length; t++) {
      const l = out.labels(CONN_CHILD, [this.totalConn[t] as string, this.totalChild[t] as string]);
      for (let i = 0; i < 3; i++)
        out.write(F.childSaEvents, total[T_WIDTH * t + T_EVENTS + i], l, EVENT_NAMES[i]);
      const r = T_WIDTH * t + T_REPORTED;
      out.write(F.connChildBytes, total[r], l, 'in');
      out.write(F.connChildBytes, total[r + 1], l, 'out');
      out.write(F.connChildPackets, total[r + 2], l, 'in');
      out.write(F.connChildPackets, total[r + 3], l, 'out');
    }
    for (const [type, s] of this.alerts) out.write(F.alerts, s.value, null, type);
  }
}

/** A state file is written at most this often, and at shutdown. */
const SAVE_EVERY_MS = 60_000;
/** Events kept until the state file is decided on (the first scrape that reaches the daemon). */
const MAX_EARLY_EVENTS = 10_000;
/** How far apart two readings of the daemon's start may be for one run (charon works it out anew each time). */
const SAME_RUN_S = 2;

/** The per-target instance: owns the subscription connection and the state (and its file). */
class EventsCollector implements Collector {
  readonly name = 'events';
  readonly help = events.help;
  readonly defaultEnabled = true;
  readonly live = false;
  state = new EventState();
  readonly client: ViciClient;
  private connected = false;
  private reconnects = 0;
  private readonly log: Logger;
  private readonly unsupported = new Set<string>();
  private readonly address: string;
  private readonly timeoutMs: number;
  private readonly stateFile: string | undefined;
  /** The state file as read at start, until the first scrape that reaches the daemon decides on it. */
  private saved: ReadResult | undefined;
  /** Events that came before that decision; undefined once it is made (or without a state file). */
  private early: [string, ViciSection][] | undefined;
  private daemonSince: number | null = null;
  private lastSave = 0;
  private saving: Promise<void> | undefined;
  private saveFailing = false;
  private watcher: fs.FSWatcher | undefined;
  private reconnecting = false;
  /** Counts the subscriptions made whole (every event registered); -1 while there is none. */
  private subscription = -1;
  private subscriptions = 0;
  /** `subscription` when the last complete listing began (-1: none, or without a subscription). */
  private listedUnder = -1;

  constructor(env: TargetEnv) {
    this.log = env.log;
    this.address = env.address;
    this.timeoutMs = env.timeoutMs;
    this.stateFile = env.stateFile;
    if (this.stateFile !== undefined) {
      this.saved = readStateFile(this.stateFile);
      this.early = [];
    }
    this.client = new ViciClient({
      address: env.address,
      timeoutMs: env.timeoutMs,
      backoffInitialMs: 500,
      backoffMaxMs: 30_000,
      onState: (s, err) => {
        if (s === 'connected') {
          if (this.connected === false && this.reconnects++ > 0)
            this.log.info({ address: this.client.where }, 'events: reconnected');
          this.connected = true;
        } else {
          this.connected = false;
          this.subscription = -1;
          if (err === undefined) return; // closed by us (shutdown, target removed)
          this.log.warn(
            { address: this.client.where, err: err ? describe(err) : 'closed' },
            'events: subscription lost, reconnecting',
          );
        }
      },
      onSubscribed: () => {
        this.subscription = ++this.subscriptions;
      },
      onSubscribeError: (event, err) => this.unsupportedEvent(event, err),
    });
    for (const e of SUBSCRIBED_EVENTS) {
      this.client
        .subscribe([e], (name, msg) => this.onEvent(name, msg))
        .catch((err: unknown) => this.unsupportedEvent(e, err));
    }
    const where = parseAddress(env.address);
    if (where.kind === 'unix') this.watchSocket(where.path);
  }

  /**
   * A daemon that comes back makes its socket anew: subscribe again at once, not after the backoff,
   * so that the first tunnels it brings up are counted (they come up a few hundred ms after the socket).
   */
  private watchSocket(file: string): void {
    const base = path.basename(file);
    try {
      this.watcher = fs.watch(path.dirname(file), { persistent: false }, (_type, name) => {
        if (name === base && !this.connected) void this.reconnectSoon();
      });
      this.watcher.on('error', () => {
        this.watcher?.close();
        this.watcher = undefined;
      });
    } catch {
      // a directory that cannot be watched: the backoff and the scrapes reconnect
    }
  }

  /** Reconnect now; the socket may exist a moment before the daemon listens on it. */
  private async reconnectSoon(): Promise<void> {
    if (this.reconnecting) return;
    this.reconnecting = true;
    try {
      for (let i = 0; i < 20 && !this.connected; i++) {
        try {
          await this.client.reconnectNow(this.timeoutMs);
        } catch {
          await sleep(50);
        }
      }
    } finally {
      this.reconnecting = false;
    }
  }

  private onEvent(name: string, msg: ViciSection): void {
    if (this.early === undefined) this.state.onEvent(name, msg);
    else if (this.early.length < MAX_EARLY_EVENTS) this.early.push([name, msg]);
  }

  private unsupportedEvent(event: string, err: unknown): void {
    if (err instanceof ViciUnknownEventError) {
      if (!this.unsupported.has(event))
        this.log.info({ event }, 'events: not supported by this daemon, skipped');
      this.unsupported.add(event);
    }
    // Connection failures are logged by onState and retried with backoff.
  }

  /** The daemon's start (seconds since the epoch), or null when it cannot be had. */
  private async daemonStart(client: ViciClient, timeoutMs: number): Promise<number | null> {
    try {
      const s = await client.command('stats', undefined, { timeoutMs });
      const up = s.uptime;
      return parseSince(isSection(up) ? str(up.since) : undefined) ?? null;
    } catch {
      return null;
    }
  }

  /**
   * Continue from the state file if it was written for this run of this daemon; else start from 0
   * (one log line says why). Then the events that came meanwhile.
   */
  private async decide(ctx: ScrapeContext): Promise<void> {
    const saved: ReadResult = this.saved ?? { ok: false, missing: false, why: 'not read' };
    this.saved = undefined;
    this.daemonSince = await this.daemonStart(ctx.client, ctx.timeLeft());
    const file = this.stateFile;
    let why = '';
    if (!saved.ok) why = saved.why;
    else {
      const f = saved.file;
      if (f.address !== this.address) why = `written for another address (${f.address})`;
      else if (
        f.daemonSince === null ||
        this.daemonSince === null ||
        Math.abs(f.daemonSince - this.daemonSince) > SAME_RUN_S
      )
        why = 'stale: written for another run of the daemon';
      else {
        try {
          this.state = EventState.restore(f.state);
          this.log.info(
            { file, saved: new Date(f.savedAt).toISOString() },
            'events: counters continue from the state file',
          );
        } catch (err) {
          why = `corrupt: ${(err as Error).message}`;
        }
      }
    }
    if (why !== '') {
      if (!saved.ok && saved.missing) this.log.info({ file }, 'events: no state file yet, counting from 0');
      else this.log.warn({ file, why }, 'events: state file not used, counting from 0');
    }
    const early = this.early ?? [];
    this.early = undefined;
    for (const [name, msg] of early) this.state.onEvent(name, msg);
  }

  /** Write the state file (atomically); a failure is logged once until a write succeeds again. */
  private async save(): Promise<void> {
    const file = this.stateFile;
    if (file === undefined || this.early !== undefined) return;
    this.lastSave = Date.now();
    // (with charon away or not answering, the start it had when last seen: asking would only wait
    // out the timeout)
    const since = this.subscription !== -1 ? await this.daemonStart(this.client, this.timeoutMs) : null;
    if (since !== null) this.daemonSince = since;
    try {
      await writeStateFile(file, {
        kind: STATE_KIND,
        version: STATE_VERSION,
        savedAt: Date.now(),
        address: this.address,
        daemonSince: this.daemonSince,
        state: this.state.snapshot(),
      });
      if (this.saveFailing) this.log.info({ file }, 'events: state file written again');
      this.saveFailing = false;
    } catch (err) {
      if (!this.saveFailing)
        this.log.warn({ file, err: (err as Error).message }, 'events: cannot write the state file');
      this.saveFailing = true;
    }
  }

  private maybeSave(): void {
    if (this.stateFile === undefined || this.saving !== undefined) return;
    if (Date.now() - this.lastSave < SAVE_EVERY_MS) return;
    this.saving = this.save().finally(() => {
      this.saving = undefined;
    });
  }

  async collect(ctx: ScrapeContext, out: Parameters<Collector['collect']>[1]): Promise<void> {
    if (ctx.up && this.early !== undefined) await this.decide(ctx);
    const st = this.state;
    // What happened while the subscription was away (or since the state file was written) is
    // counted from this listing: the subscription has not been there all the time since the last.
    const under = this.subscription;
    st.beginScrape(under === -1 || under !== this.listedUnder);
    let listed = false;
    if (ctx.up) {
      // The daemon answered this scrape: a subscription waiting out its backoff reconnects now, so that
      // the events of a daemon that just came back are not missed for up to the backoff's 30 s.
      const reconnect = this.connected
        ? undefined
        : this.client.reconnectNow(ctx.timeLeft()).catch(() => undefined);
      const walk = ctx.sas((conn, ike) => this.listed(st, conn, ike));
      // Configured connections and children get their series from the start (a failed list-conns
      // only means they wait for their first event or SA).
      const known = walk.then(() => ctx.conns((c) => st.known(c.name, c.children)).catch(() => {}));
      await Promise.all([known, reconnect]);
      listed = true;
      this.listedUnder = under;
    }
    st.endScrape(listed);
    this.write(out);
    if (listed) this.maybeSave();
  }

  /**
   * When this scrape's listings failed (collect threw): the counters as they stand, so that the
   * series do not vanish from the scrape that reports the failure (success 0).
   */
  down(out: Parameters<Collector['collect']>[1]): void {
    this.state.endScrape(false);
    this.write(out);
  }

  /** The CHILD SAs of one listed IKE SA. */
  private listed(st: EventState, conn: string, ike: ViciSection): void {
    const r = st.onListedIke(conn, ike);
    for (const [key, child] of subSections(ike['child-sas']))
      st.onListed(conn, childName(key, child), child, r);
  }

  private write(out: Parameters<Collector['collect']>[1]): void {
    out.write(F.eventsConnected, this.connected ? 1 : 0);
    this.state.write(out);
  }

  /**
   * With a state file: one last listing, so that what passed since the last scrape is kept, then the
   * file (nothing is lost on SIGTERM). A state never decided on leaves the old file as it is.
   */
  async detach(): Promise<void> {
    if (this.stateFile !== undefined && this.early === undefined) {
      const st = this.state;
      st.beginScrape();
      let listed = false;
      // With charon away or not answering (no subscription), the state as of the last scrape, at once.
      if (this.subscription !== -1)
        try {
          await this.client.stream(
            'list-sas',
            { noblock: 'yes' },
            (msg) => {
              for (const [conn, ike] of subSections(msg)) this.listed(st, conn, ike);
            },
            { timeoutMs: this.timeoutMs },
          );
          listed = true;
        } catch {
          // the daemon is away: the state as of the last scrape
        }
      st.endScrape(listed);
      await this.saving;
      await this.save();
    }
    this.watcher?.close();
    this.client.close();
  }
}

export const events: Collector = {
  name: 'events',
  help: 'Event-driven counters from a long-lived subscription (ike/child up, down, rekey; alerts) and traffic per child config that never goes backwards.',
  defaultEnabled: true,
  live: false,
  async collect() {
    throw new Error('events: collector used without a target');
  },
  attach(env) {
    return new EventsCollector(env);
  },
};
