// The rows of the events collector's state (see events-rows.ts for their layout): one per connection,
// child config, CHILD SA and IKE SA, how they are made and credited, and how they are written out.
// EventState (events-state.ts) says what the events and listings do to them.

import type { Exposition } from '../metrics/exposition.js';
import { F } from '../metrics/families.js';
import { childName, str, subSections, type ViciSection } from '../vici/index.js';
import {
  C_FAILED,
  C_WIDTH,
  counters,
  ended,
  F_START,
  grown,
  I_ABSENT,
  I_BORN,
  I_CONN,
  I_FLAGS,
  I_INTS,
  I_LISTED_IN,
  I_NEXT,
  I_SPI,
  ikeSpi,
  RowTable,
  S_ABSENT,
  S_BORN,
  S_CREDITED,
  S_FLAGS,
  S_IKE,
  S_INTS,
  S_LAST,
  S_LISTED_IN,
  S_RETIRED,
  S_SPI_IN,
  S_SPI_OUT,
  S_TOTALS,
  S_WIDTH,
  saId,
  spi,
  T_EVENTS,
  T_FINISHED,
  T_LIVE_IN,
  T_REPORTED,
  T_SEEN,
  T_WIDTH,
} from './events-rows.js';
import type { EventSnapshot, StateTables } from './events-snapshot.js';

export type { EventSnapshot };

/** How many scrapes a finished or vanished SA is remembered, in case it is listed again. */
export const FORGET_AFTER_SCRAPES = 5;

export const EVENT_NAMES = ['up', 'down', 'rekey'] as const;
const CONN = ['conn'];
const CONN_CHILD = ['conn', 'child'];
export type EventName = (typeof EVENT_NAMES)[number];
export const EVENT_INDEX: Readonly<Record<EventName, 0 | 1 | 2>> = { up: 0, down: 1, rekey: 2 };

export function isSectionValue(v: unknown): v is ViciSection {
  return v !== undefined && typeof v === 'object' && v !== null && !Array.isArray(v) && !Buffer.isBuffer(v);
}

/** The one IKE section of an event message (its name is the IKE config name). */
export function ikeOf(msg: ViciSection): [string, ViciSection] | undefined {
  return subSections(msg)[0];
}

/** One alert series. */
export interface Series {
  value: number;
}

export interface EventStateOptions {
  /** When this state began, ms since the epoch (default: now). */
  readonly since?: number;
  /** The clock (ms since the epoch). */
  readonly now?: () => number;
  /**
   * What CHILD SAs are totalled by under their connection (the `child` of a total's row): by default
   * their child config's name; undefined leaves the SA out of the state.
   */
  readonly group?: Group;
}

/** The group of a CHILD SA (`key`, `child`) of IKE SA `ike` of connection `conn`; undefined: none. */
export type Group = (conn: string, ike: ViciSection, key: string, child: ViciSection) => string | undefined;

const byChildConfig: Group = (_conn, _ike, key, child) => childName(key, child);

export class EventTables implements StateTables {
  protected readonly since: number;
  protected readonly now: () => number;
  protected readonly group: Group;
  constructor(opts: EventStateOptions) {
    this.now = opts.now ?? Date.now;
    this.since = opts.since ?? this.now();
    this.group = opts.group ?? byChildConfig;
  }

  /** Connection rows by conn: their names and IKE SA events (3 per row). */
  readonly conns = new Map<string, number>();
  protected readonly connNames: string[] = [];
  connEvents = new Float64Array(C_WIDTH * 64);
  /**
   * Child config rows by conn, then child: their conn and child, and T_ numbers. Two
   * levels, not one key `conn + child`: the joined key had to be made and hashed per child and
   * scrape (120 ms a scrape at 50,000 connections of 2 children, where the conn is looked up once).
   */
  readonly totals = new Map<string, Map<string, number>>();
  /** The conn and child of each total's row; undefined: a free row (listed in freeTotals). */
  protected readonly totalConn: (string | undefined)[] = [];
  protected readonly totalChild: (string | undefined)[] = [];
  private readonly freeTotals: number[] = [];
  total = new Float64Array(T_WIDTH * 64);
  /** CHILD SA rows by unique id (their SPIs tell a restarted daemon's reused ids apart). */
  readonly child = new RowTable(S_WIDTH, S_INTS);
  /** IKE SA rows by unique id, as for CHILD SAs. */
  readonly ike = new RowTable(0, I_INTS);
  /** Counters of the CHILD SA being listed or reported by an event. */
  protected readonly scratch = new Float64Array(4);
  /** Alerts by the connection they concern ('' for none or one not configured), then by type. */
  readonly alerts = new Map<string, Map<string, Series>>();
  /** The scrape under way (counted from 1). */
  protected scrapeNo = 0;

  conn(conn: string): number {
    let c = this.conns.get(conn);
    if (c === undefined) {
      c = this.connNames.push(conn) - 1;
      this.connEvents = grown(this.connEvents, C_WIDTH * (c + 1));
      this.conns.set(conn, c);
    }
    return c;
  }

  /** Totals' rows in use. */
  get groups(): number {
    return this.totalConn.length - this.freeTotals.length;
  }

  /** Whether (conn, child) has a total's row. */
  hasGroup(conn: string, child: string): boolean {
    return this.totals.get(conn)?.has(child) === true;
  }

  /**
   * Each total's row: its number, conn, child, and its traffic as last reported (bytes in, out,
   * packets in, out, at reported[at...]).
   */
  eachTotal(fn: (t: number, conn: string, child: string, reported: Float64Array, at: number) => void): void {
    for (let t = 0; t < this.totalConn.length; t++) {
      const conn = this.totalConn[t];
      if (conn !== undefined) fn(t, conn, this.totalChild[t] as string, this.total, T_WIDTH * t + T_REPORTED);
    }
  }

  /**
   * Forget the totals' rows no CHILD SA was listed in since `before` (ms since the epoch), but for
   * those a remembered CHILD SA still counts in (they go later); how many were forgotten.
   */
  forgetTotals(before: number): number {
    let stale = 0;
    for (let t = 0; t < this.totalConn.length; t++)
      if (this.totalConn[t] !== undefined && (this.total[T_WIDTH * t + T_SEEN] as number) < before) stale++;
    if (stale === 0) return 0;
    const inUse = new Set<number>();
    const ints = this.child.ints;
    for (let s = 0; s < this.child.keys.length; s++)
      if (this.child.keys[s] !== undefined) inUse.add(ints[S_INTS * s + S_TOTALS] as number);
    let gone = 0;
    for (let t = 0; t < this.totalConn.length; t++) {
      const conn = this.totalConn[t];
      if (conn === undefined || (this.total[T_WIDTH * t + T_SEEN] as number) >= before || inUse.has(t))
        continue;
      const m = this.totals.get(conn) as Map<string, number>;
      m.delete(this.totalChild[t] as string);
      if (m.size === 0) this.totals.delete(conn);
      this.totalConn[t] = undefined;
      this.totalChild[t] = undefined;
      this.freeTotals.push(t);
      gone++;
    }
    return gone;
  }

  /** Count one alert of `type` about connection `conn` ('' for none). */
  alert(conn: string, type: string, n = 1): void {
    let byType = this.alerts.get(conn);
    if (byType === undefined) {
      byType = new Map();
      this.alerts.set(conn, byType);
    }
    const a = byType.get(type);
    if (a === undefined) byType.set(type, { value: n });
    else a.value += n;
  }

  /** How many IKE SAs of the connection never got established (for tests). */
  failures(conn: string): number | undefined {
    const c = this.conns.get(conn);
    return c === undefined ? undefined : this.connEvents[C_WIDTH * c + C_FAILED];
  }

  /** How many IKE SA events of this kind the connection had (for tests). */
  ikeEvents(conn: string, event: EventName): number | undefined {
    const c = this.conns.get(conn);
    return c === undefined ? undefined : this.connEvents[C_WIDTH * c + EVENT_INDEX[event]];
  }

  /** How many CHILD SA events of this kind the child config had. */
  childEvents(conn: string, child: string, event: EventName): number | undefined {
    const t = this.totals.get(conn)?.get(child);
    return t === undefined ? undefined : this.total[T_WIDTH * t + T_EVENTS + EVENT_INDEX[event]];
  }

  /** CHILD SA rows in use and in all (for tests: rows of forgotten SAs are reused). */
  saRows(): { used: number; all: number } {
    return { used: this.child.size, all: this.child.keys.length };
  }

  /** A child config's traffic as last reported: bytes in, bytes out, packets in, packets out. */
  reported(conn: string, child: string): number[] | undefined {
    const t = this.totals.get(conn)?.get(child);
    if (t === undefined) return undefined;
    const at = T_WIDTH * t + T_REPORTED;
    return Array.from(this.total.subarray(at, at + 4));
  }

  childTotals(conn: string, child: string): number {
    return this.childRow(this.childrenOf(conn), conn, child);
  }

  protected childrenOf(conn: string): Map<string, number> {
    let m = this.totals.get(conn);
    if (m === undefined) {
      m = new Map();
      this.totals.set(conn, m);
    }
    return m;
  }

  protected childRow(children: Map<string, number>, conn: string, child: string): number {
    let t = children.get(child);
    if (t === undefined) {
      t = this.freeTotals.pop() ?? this.totalConn.length;
      this.totalConn[t] = conn;
      this.totalChild[t] = child;
      this.total = grown(this.total, T_WIDTH * (t + 1));
      this.total.fill(0, T_WIDTH * t, T_WIDTH * (t + 1));
      this.total[T_WIDTH * t + T_LIVE_IN] = -1;
      this.total[T_WIDTH * t + T_SEEN] = this.now();
      children.set(child, t);
    }
    return t;
  }

  /**
   * The row of the CHILD SA `sa` of child config (conn, child), made if it has none; `ike` is the
   * unique id of its IKE SA (-1: not known); `listed`: it is being listed (not reported by an event).
   */
  protected entry(sa: ViciSection, conn: string, child: string, ike = -1, listed = false): number {
    const id = saId(sa);
    const spiIn = spi(sa, 'spi-in');
    const spiOut = spi(sa, 'spi-out');
    let s = this.child.get(id);
    if (s !== undefined) {
      const i = S_INTS * s;
      if (this.child.ints[i + S_SPI_IN] === spiIn && this.child.ints[i + S_SPI_OUT] === spiOut) return s;
      // Its id with other SPIs: the daemon restarted and counts ids from 1 again. The SA that had the
      // id is gone: it is credited with what it was last seen with, its end is counted if no event
      // did (none can come now), and the row is the new SA's.
      if (this.child.ints[i + S_RETIRED] === 0) this.credit(s, this.child.floats, S_WIDTH * s + S_LAST);
      ended(
        this.total,
        T_WIDTH * (this.child.ints[i + S_TOTALS] as number) + T_EVENTS,
        this.child.ints,
        i + S_FLAGS,
      );
      this.child.forget(s);
    }
    const t = this.childTotals(conn, child);
    s = this.child.add(id);
    const i = S_INTS * s;
    this.child.ints[i + S_TOTALS] = t;
    this.child.ints[i + S_LISTED_IN] = -1;
    this.child.ints[i + S_ABSENT] = 0;
    this.child.ints[i + S_RETIRED] = 0;
    this.child.ints[i + S_SPI_IN] = spiIn;
    this.child.ints[i + S_SPI_OUT] = spiOut;
    this.child.ints[i + S_IKE] = ike;
    this.child.ints[i + S_FLAGS] = 0;
    this.child.ints[i + S_BORN] = this.scrapeNo;
    // Installed before this state began: what it had by now was counted by an earlier process, or
    // never will be; only what it passes from here on is this state's. A listing does not count its
    // start either (an event that reports it came after this state began, and counts).
    if (this.predates(sa, 'install-time')) {
      this.child.floats.set(counters(sa, this.scratch), S_WIDTH * s + S_CREDITED);
      if (listed) this.child.ints[i + S_FLAGS] = F_START;
    }
    return s;
  }

  /** The row of IKE SA `ike` of connection `conn`, made if it has none. */
  protected ikeEntry(conn: string, ike: ViciSection, listed = false): number {
    const id = saId(ike);
    const sp = ikeSpi(ike);
    let r = this.ike.get(id);
    if (r !== undefined) {
      const i = I_INTS * r;
      if (this.ike.ints[i + I_SPI] === sp) return r;
      // a restarted daemon's reused id: the IKE SA that had it is gone
      ended(this.connEvents, C_WIDTH * (this.ike.ints[i + I_CONN] as number), this.ike.ints, i + I_FLAGS);
      this.ike.forget(r);
    }
    const c = this.conn(conn);
    r = this.ike.add(id);
    const i = I_INTS * r;
    this.ike.ints[i + I_CONN] = c;
    this.ike.ints[i + I_SPI] = sp;
    this.ike.ints[i + I_LISTED_IN] = -1;
    this.ike.ints[i + I_ABSENT] = 0;
    this.ike.ints[i + I_FLAGS] = listed && this.predates(ike, 'established') ? F_START : 0;
    this.ike.ints[i + I_BORN] = this.scrapeNo;
    this.ike.ints[i + I_NEXT] = -1;
    return r;
  }

  /**
   * Whether the SA may have been made before this state began (`install-time` or `established`:
   * whole seconds since; one made within a second after counts as before, so nothing is ever
   * counted twice).
   */
  protected predates(sa: ViciSection, key: 'install-time' | 'established'): boolean {
    const t = str(sa[key]);
    if (t === undefined || t === '') return false;
    const ago = Number(t);
    return Number.isFinite(ago) && this.now() - (ago + 1) * 1000 < this.since;
  }

  /**
   * Move an SA's counters (c[at..at+3]) beyond what it was already credited with into its config's
   * total.
   */
  protected credit(s: number, c: Float64Array, at: number): void {
    const sa = this.child.floats;
    const cr = S_WIDTH * s + S_CREDITED;
    const fin = T_WIDTH * (this.child.ints[S_INTS * s + S_TOTALS] as number) + T_FINISHED;
    for (let i = 0; i < 4; i++) {
      const d = (c[at + i] as number) - (sa[cr + i] as number);
      if (d > 0) {
        this.total[fin + i] = (this.total[fin + i] as number) + d;
        sa[cr + i] = c[at + i] as number;
      }
    }
    this.child.ints[S_INTS * s + S_RETIRED] = 1;
  }

  /** A CHILD SA is gone (down) or replaced (the old half of a rekey): credit its final counters. */
  protected finish(conn: string, name: string, child: ViciSection, ike: number): number {
    const s = this.entry(child, conn, name, ike);
    this.credit(s, counters(child, this.scratch), 0);
    return s;
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
      const name = this.connNames[c] as string;
      const l = out.labels(CONN, [name]);
      // '' holds only the failed attempts no connection was chosen for
      if (name !== '')
        for (let i = 0; i < 3; i++) out.write(F.ikeSaEvents, ce[C_WIDTH * c + i], l, EVENT_NAMES[i]);
      out.write(F.ikeSaFailures, ce[C_WIDTH * c + C_FAILED], l);
    }
    const total = this.total;
    for (let t = 0; t < this.totalConn.length; t++) {
      const conn = this.totalConn[t];
      if (conn === undefined) continue;
      const l = out.labels(CONN_CHILD, [conn, this.totalChild[t] as string]);
      for (let i = 0; i < 3; i++)
        out.write(F.childSaEvents, total[T_WIDTH * t + T_EVENTS + i], l, EVENT_NAMES[i]);
      const r = T_WIDTH * t + T_REPORTED;
      out.write(F.connChildBytes, total[r], l, 'in');
      out.write(F.connChildBytes, total[r + 1], l, 'out');
      out.write(F.connChildPackets, total[r + 2], l, 'in');
      out.write(F.connChildPackets, total[r + 3], l, 'out');
    }
    for (const [conn, byType] of this.alerts)
      for (const [type, s] of byType) out.write(F.alerts, s.value, null, conn, type);
  }
}
