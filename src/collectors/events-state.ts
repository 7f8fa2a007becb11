// What the events and the listings mean for the events collector's counts and traffic totals. Per
// CHILD SA (keyed by unique id and SPIs, so a restarted daemon's reused ids never collide), `credited`
// is what has been moved into the finished total of its child config. An SA that goes down or is
// rekeyed is credited with its final counters; one that is still listed afterwards (a rekeyed SA
// lingers) or that reappears (skipped by a non-blocking listing) adds only what it passed beyond
// that. An SA that vanishes without an event (missed while disconnected, daemon restart) is credited
// with what the last scrape saw. Values are float64: exact up to 2^53 bytes.

import { str, subSections, type ViciSection } from '../vici/index.js';
import {
  C_FAILED,
  C_WIDTH,
  count,
  counters,
  ended,
  F_END,
  F_INHERITS,
  F_MOVED,
  F_PENDING,
  F_START,
  I_ABSENT,
  I_BORN,
  I_CONN,
  I_FLAGS,
  I_INTS,
  I_LISTED_IN,
  I_NEXT,
  ikeIdInt,
  inc,
  rekeyed,
  S_ABSENT,
  S_BORN,
  S_CREDITED,
  S_FLAGS,
  S_IKE,
  S_INTS,
  S_LAST,
  S_LISTED_IN,
  S_RETIRED,
  S_TOTALS,
  S_WIDTH,
  saId,
  T_EVENTS,
  T_FINISHED,
  T_LIVE,
  T_LIVE_IN,
  T_REPORTED,
  T_SEEN,
  T_WIDTH,
} from './events-rows.js';
import { type EventSnapshot, fromSnapshot, toSnapshot } from './events-snapshot.js';
import {
  type EventStateOptions,
  EventTables,
  FORGET_AFTER_SCRAPES,
  ikeOf,
  isSectionValue,
} from './events-tables.js';

export type { EventSnapshot, EventStateOptions };

/** charon's name for an IKE SA that no connection was chosen for (yet). */
const UNNAMED = '(unnamed)';

/** Whether an IKE SA (as listed, or in an event) never got established: charon is still setting it up. */
function halfOpen(ike: ViciSection): boolean {
  const state = str(ike.state);
  return state === 'CONNECTING' || state === 'CREATED';
}

export class EventState extends EventTables {
  constructor(opts: EventStateOptions = {}) {
    super(opts);
  }

  /** The scrape of the last complete listing (0: none yet). */
  private lastListing = 0;
  /** Whether this scrape's listing is the first (its SAs are where counting starts). */
  private baseline = true;
  /** Whether this scrape's listing counts what the events did not (the subscription was away). */
  private reconciling = false;
  /** Whether this state was restored from a snapshot (whose SAs are where counting started). */
  private restored = false;
  received = 0;

  /** Handle one event message. */
  onEvent(name: string, msg: ViciSection): void {
    this.received++;
    if (name === 'alert') {
      // The connection of the IKE SA it names: charon names an IKE SA after the connection of its
      // own configuration it chose (a bounded label; a peer only picks among them), `(unnamed)`
      // before it chose one. Not checked against the last list-conns: one just loaded is not there.
      const about = isSectionValue(msg['ike-sa']) ? ikeOf(msg['ike-sa'])?.[0] : undefined;
      this.alert(about !== undefined && about !== UNNAMED ? about : '', str(msg.type) ?? '');
      return;
    }
    const ike = ikeOf(msg);
    if (ike === undefined) return;
    const [conn, sa] = ike;
    const updown = str(msg.up) === 'yes' ? 'up' : 'down';
    // (rows are made before their arrays are passed on: making one may grow them)
    if (name === 'ike-updown' && updown === 'down' && halfOpen(sa)) {
      // Never up (rejected proposal, failed authentication, unreachable peer): a failed attempt of
      // its connection; `(unnamed)` is charon's name for an IKE SA no connection was chosen for.
      const at = C_WIDTH * this.conn(conn === UNNAMED ? '' : conn);
      inc(this.connEvents, at + C_FAILED);
    } else if (name === 'ike-updown') {
      const f = I_INTS * this.ikeEntry(conn, sa) + I_FLAGS;
      const at = C_WIDTH * this.conn(conn);
      count(this.connEvents, at, this.ike.ints, f, updown);
    } else if (name === 'ike-rekey') {
      const o = isSectionValue(sa.old) ? I_INTS * this.ikeEntry(conn, sa.old) + I_FLAGS : -1;
      const n = isSectionValue(sa.new) ? I_INTS * this.ikeEntry(conn, sa.new) + I_FLAGS : -1;
      // where the old one's CHILD SAs went: a later move of theirs starts from the new one
      if (o >= 0 && n >= 0) this.ike.ints[o - I_FLAGS + I_NEXT] = ikeIdInt(saId(sa.new as ViciSection));
      const at = C_WIDTH * this.conn(conn);
      rekeyed(this.connEvents, at, this.ike.ints, o, n);
    } else if (name === 'child-updown') {
      const ikeId = ikeIdInt(saId(sa));
      for (const [key, child] of subSections(sa['child-sas'])) {
        const child_ = this.group(conn, sa, key, child);
        if (child_ === undefined) continue;
        const s =
          updown === 'down'
            ? this.finish(conn, child_, child, ikeId)
            : this.entry(child, conn, child_, ikeId);
        const at = T_WIDTH * (this.child.ints[S_INTS * s + S_TOTALS] as number) + T_EVENTS;
        count(this.total, at, this.child.ints, S_INTS * s + S_FLAGS, updown);
      }
    } else if (name === 'child-rekey') {
      const ikeId = ikeIdInt(saId(sa));
      // Here the section is the plain child name, holding `old` and `new`.
      for (const [key, pair] of subSections(sa['child-sas'])) {
        const old = pair.old;
        const either = isSectionValue(old) ? old : isSectionValue(pair.new) ? pair.new : {};
        const child_ = this.group(conn, sa, key, either);
        if (child_ === undefined) continue;
        const o = isSectionValue(old) ? S_INTS * this.finish(conn, child_, old, ikeId) + S_FLAGS : -1;
        const n = isSectionValue(pair.new)
          ? S_INTS * this.entry(pair.new, conn, child_, ikeId) + S_FLAGS
          : -1;
        const at = T_WIDTH * this.childTotals(conn, child_) + T_EVENTS;
        rekeyed(this.total, at, this.child.ints, o, n);
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
    // Half-open: not up yet (an up event, or a later listing, counts it once it is).
    if (halfOpen(ike)) return -1;
    const r = this.ikeEntry(conn, ike, true);
    const i = I_INTS * r;
    const ii = this.ike.ints;
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
    const ikeId = ike < 0 ? -1 : ikeIdInt(this.ike.keys[ike]);
    const s = this.entry(child, conn, name, ikeId, true);
    const i = S_INTS * s;
    const ints = this.child.ints;
    ints[i + S_FLAGS] = this.seen(ints[i + S_FLAGS] as number, ints[i + S_LISTED_IN] as number);
    ints[i + S_LISTED_IN] = this.scrapeNo;
    ints[i + S_ABSENT] = 0;
    const was = ints[i + S_IKE] as number;
    if (ikeId !== -1 && was !== ikeId) {
      // Held by another IKE SA than before: that one (or the last of the IKE SAs the events say it
      // was rekeyed into) was rekeyed into this one.
      if (was !== -1) {
        const ii = this.ike.ints;
        let old = this.ike.get(was);
        for (let hops = 0; old !== undefined && hops < 16; hops++) {
          const next = ii[I_INTS * old + I_NEXT] as number;
          if (next === -1 || next === ikeId) break;
          old = this.ike.get(next);
        }
        if (old !== undefined && old !== ike) {
          ii[I_INTS * old + I_FLAGS] = (ii[I_INTS * old + I_FLAGS] as number) | F_MOVED;
          ii[I_INTS * ike + I_FLAGS] = (ii[I_INTS * ike + I_FLAGS] as number) | F_INHERITS;
        }
      }
      ints[i + S_IKE] = ikeId;
    }
    const c = counters(child, this.scratch);
    if (ints[i + S_RETIRED] === 1) this.credit(s, c, 0);
    else this.child.floats.set(c, S_WIDTH * s + S_LAST);
  }

  /**
   * After a complete listing: credit SAs that vanished unseen, count the starts and ends the events
   * missed (when reconciling), forget old SAs, update the totals.
   */
  endScrape(listed: boolean): void {
    const now = this.scrapeNo;
    const sa = this.child.floats;
    const total = this.total;
    if (listed) {
      if (this.reconciling) this.reconcileChildren();
      const ints = this.child.ints;
      for (let s = 0; s < this.child.keys.length; s++) {
        const id = this.child.keys[s];
        if (id === undefined) continue;
        const i = S_INTS * s;
        const last = S_WIDTH * s + S_LAST;
        if (ints[i + S_LISTED_IN] === now) {
          if (ints[i + S_RETIRED] === 0) {
            const t = T_WIDTH * (ints[i + S_TOTALS] as number);
            if (total[t + T_LIVE_IN] !== now) {
              total[t + T_SEEN] = this.now();
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
        if (inc(ints, i + S_ABSENT) > FORGET_AFTER_SCRAPES) this.child.forget(s);
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
    if ((v & F_PENDING) !== 0) ended(events, at, flags, f);
    else if (this.reconciling) flags[f] = v | F_PENDING;
  }

  /**
   * Reconciling: each CHILD SA listed whose start no event counted came up while the events were
   * away, as the new half of a rekey if an uncounted CHILD SA of the same child config and IKE SA is
   * missing now (that one is the old half), else as an up.
   */
  private reconcileChildren(): void {
    const now = this.scrapeNo;
    const ints = this.child.ints;
    const gone = new Map<string, number[]>();
    const fresh: number[] = [];
    for (let s = 0; s < this.child.keys.length; s++) {
      if (this.child.keys[s] === undefined) continue;
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
      if (old !== undefined) rekeyed(this.total, at, ints, S_INTS * old + S_FLAGS, i + S_FLAGS);
      else count(this.total, at, ints, i + S_FLAGS, 'up');
    }
  }

  /** After a complete listing, the IKE SAs: as the CHILD SAs, an IKE SA rekeyed when its CHILD SAs moved. */
  private ikesListed(): void {
    const now = this.scrapeNo;
    const ii = this.ike.ints;
    const ce = this.connEvents;
    for (let r = 0; r < this.ike.keys.length; r++) {
      const id = this.ike.keys[r];
      if (id === undefined) continue;
      const i = I_INTS * r;
      const f = ii[i + I_FLAGS] as number;
      const at = C_WIDTH * (ii[i + I_CONN] as number);
      if (ii[i + I_LISTED_IN] === now) {
        if (this.reconciling && (f & F_START) === 0) {
          if ((f & F_INHERITS) !== 0) rekeyed(ce, at, ii, -1, i + I_FLAGS);
          else count(ce, at, ii, i + I_FLAGS, 'up');
        }
        continue;
      }
      if (ii[i + I_BORN] === now) continue;
      // its CHILD SAs are another's now: the old half of a rekey, counted with the new half
      if (this.reconciling && (f & (F_MOVED | F_END)) === F_MOVED) ii[i + I_FLAGS] = f | F_END;
      else this.absent(ce, at, ii, i + I_FLAGS);
      if (inc(ii, i + I_ABSENT) > FORGET_AFTER_SCRAPES) this.ike.forget(r);
    }
  }

  /** The state as a state file keeps it (plain JSON data). */
  snapshot(): EventSnapshot {
    return toSnapshot(this);
  }

  /**
   * The state a snapshot describes, checked value by value: a snapshot that does not hold together
   * throws (a corrupt file), it never gives wrong numbers. Every CHILD SA its process had counted is
   * in it, so an SA that is not was never counted, however old it is: the restored state begins at 0.
   */
  static restore(snap: EventSnapshot, opts: Pick<EventStateOptions, 'now' | 'group'> = {}): EventState {
    const st = new EventState({ since: 0, now: opts.now, group: opts.group });
    st.restored = true;
    fromSnapshot(snap, st);
    return st;
  }
}
