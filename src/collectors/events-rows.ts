// How the events collector keeps its state: rows of numbers in typed arrays, one per connection,
// child config, CHILD SA and IKE SA, not an object per record (at tens of thousands of tunnels the
// objects were most of the live heap and of what the garbage collector traces), and the rules that
// count each SA's start and end once, whoever sees it first: its event or a listing.

import { str, type ViciSection } from '../vici/index.js';

/** A child config's row (conn, child), 16 numbers (counters in fours: bytes in, out, packets in, out): */
export const T_EVENTS = 0; // CHILD SA events: up, down, rekey (3)
export const T_LIVE_IN = 3; // the scrape that T_LIVE belongs to
export const T_FINISHED = 4; // credited by finished or vanished CHILD SAs (4)
export const T_LIVE = 8; // sum of the live CHILD SAs of scrape T_LIVE_IN (4)
export const T_REPORTED = 12; // what was last written: a total never goes backwards (4)
export const T_SEEN = 16; // when a CHILD SA of it was last listed (or the row made), ms since the epoch
export const T_WIDTH = 17;

/** A CHILD SA's row, 8 numbers: what was credited to its config's total (4), its last counters (4) ... */
export const S_CREDITED = 0;
export const S_LAST = 4;
export const S_WIDTH = 8;
/**
 * ... and 9 integers: its child config's row, the scrape it was listed in, scrapes absent, retired,
 * its SPIs (in, out; as 32-bit integers), its IKE SA's unique id (-1: not known), F_ flags, and the
 * scrape during which its row was made.
 */
export const S_TOTALS = 0;
export const S_LISTED_IN = 1;
export const S_ABSENT = 2;
export const S_RETIRED = 3;
export const S_SPI_IN = 4;
export const S_SPI_OUT = 5;
export const S_IKE = 6;
export const S_FLAGS = 7;
export const S_BORN = 8;
export const S_INTS = 9;

/**
 * An IKE SA's row, 7 integers: its connection's row, its SPI, listed in, absent, F_ flags, born, and
 * the id of the IKE SA an ike-rekey event said it was rekeyed into (-1: none).
 */
export const I_CONN = 0;
export const I_SPI = 1;
export const I_LISTED_IN = 2;
export const I_ABSENT = 3;
export const I_FLAGS = 4;
export const I_BORN = 5;
export const I_NEXT = 6;
export const I_INTS = 7;

// Flags of an SA's row. Each SA's start and end are counted once, by its event or, when the
// subscription was away, by the listings (reconciliation); whichever comes second sees the flag.
/** Its start (up, or the new half of a rekey) is counted. */
export const F_START = 1;
/** Its end (down, or the old half of a rekey) is counted. */
export const F_END = 2;
/**
 * Missing from a reconciling listing: a down if the next listing lacks it too (a non-blocking
 * listing skips an SA that is busy at that moment, and a skipped SA is not a down).
 */
export const F_PENDING = 4;
/** (IKE SA) Holds a CHILD SA that another IKE SA held: the new half of an IKE rekey. */
export const F_INHERITS = 8;
/** (IKE SA) A CHILD SA it held is held by another IKE SA now: the old half of an IKE rekey. */
export const F_MOVED = 16;

/** Up, down, rekey: the order of the three event counts of a connection's or child config's row. */
export const UP = 0;
export const DOWN = 1;
export const REKEY = 2;
/** A connection's row: its IKE SA events (up, down, rekey), then its IKE SAs that never got established. */
export const C_FAILED = 3;
export const C_WIDTH = 4;

/**
 * A typed array with room for `n` elements: the same one, or a copy a quarter bigger (not twice:
 * the state of 50,000 tunnels is ~25 MB of rows, and doubling would hold up to as much again unused).
 */
export function grown<A extends Float64Array | Int32Array>(a: A, n: number): A {
  if (n <= a.length) return a;
  const bigger = new (a.constructor as new (n: number) => A)(Math.max(n, Math.ceil(1.25 * a.length)));
  bigger.set(a);
  return bigger;
}

/** a[i] += 1; the new value. */
export function inc(a: Float64Array | Int32Array, i: number): number {
  a[i] = (a[i] as number) + 1;
  return a[i] as number;
}

/**
 * SA rows by unique id: `floats` numbers and `ints` integers per row. Rows of forgotten SAs are
 * reused. The arrays grow as rows are added: read them again after `add`.
 */
export class RowTable {
  private readonly rows = new Map<number | string, number>();
  /** The id of each row; undefined: a free row. */
  readonly keys: (number | string | undefined)[] = [];
  private readonly free: number[] = [];
  floats: Float64Array;
  ints: Int32Array;

  constructor(
    readonly floatWidth: number,
    readonly intWidth: number,
  ) {
    this.floats = new Float64Array(floatWidth * 64);
    this.ints = new Int32Array(intWidth * 64);
  }

  get(id: number | string): number | undefined {
    return this.rows.get(id);
  }

  /** Rows in use. */
  get size(): number {
    return this.rows.size;
  }

  /** A row for `id` (which has none), zeroed. */
  add(id: number | string): number {
    const r = this.free.pop() ?? this.keys.length;
    this.floats = grown(this.floats, this.floatWidth * (r + 1));
    this.ints = grown(this.ints, this.intWidth * (r + 1));
    this.floats.fill(0, this.floatWidth * r, this.floatWidth * (r + 1));
    this.ints.fill(0, this.intWidth * r, this.intWidth * (r + 1));
    this.keys[r] = id;
    this.rows.set(id, r);
    return r;
  }

  /** Row r is free again. */
  forget(r: number): void {
    const id = this.keys[r];
    if (id === undefined) return;
    this.rows.delete(id);
    this.keys[r] = undefined;
    this.free.push(r);
  }
}

/**
 * An SA is gone for certain: count its end (a down, in events[at + DOWN]) unless it was counted; its
 * flags are flags[f].
 */
export function ended(events: Float64Array, at: number, flags: Int32Array, f: number): void {
  const v = flags[f] as number;
  if ((v & F_END) === 0) inc(events, at + DOWN);
  flags[f] = (v | F_END) & ~F_PENDING;
}

/**
 * Count a start (`up`) or end (`down`) of an SA whose flags are flags[f], unless counted before;
 * events[at..at+2] are its config's up, down, rekey.
 */
export function count(
  events: Float64Array,
  at: number,
  flags: Int32Array,
  f: number,
  what: 'up' | 'down',
): void {
  const bit = what === 'up' ? F_START : F_END;
  const v = flags[f] as number;
  if ((v & bit) === 0) inc(events, at + (what === 'up' ? UP : DOWN));
  flags[f] = (v | bit) & ~F_PENDING;
}

/**
 * A rekey, old half at flags[o], new half at flags[n] (-1: not known): counted unless either half
 * was counted before.
 */
export function rekeyed(events: Float64Array, at: number, flags: Int32Array, o: number, n: number): void {
  const done =
    (o >= 0 && ((flags[o] as number) & F_END) !== 0) || (n >= 0 && ((flags[n] as number) & F_START) !== 0);
  if (!done) inc(events, at + REKEY);
  if (o >= 0) flags[o] = ((flags[o] as number) | F_END) & ~F_PENDING;
  if (n >= 0) flags[n] = (flags[n] as number) | F_START;
}

/** Counters of the CHILD SA being listed or reported by an event (into `into`). */
export function counters(child: ViciSection, into: Float64Array): Float64Array {
  const n = (k: string) => {
    const v = Number(str(child[k]) ?? 0);
    return Number.isFinite(v) ? v : 0;
  };
  into[0] = n('bytes-in');
  into[1] = n('bytes-out');
  into[2] = n('packets-in');
  into[3] = n('packets-out');
  return into;
}

/** An SA's unique id: a number as charon gives it (a string only if it is not one). */
export function saId(sa: ViciSection): number | string {
  const id = str(sa.uniqueid) ?? '';
  const n = Number(id);
  return id !== '' && Number.isSafeInteger(n) ? n : id;
}

/** An SPI (hex) as a 32-bit integer; 0 for none or for one that is not hex. */
export function spi(child: ViciSection, key: 'spi-in' | 'spi-out'): number {
  return Number.parseInt(str(child[key]) ?? '', 16) | 0;
}

/** An IKE SA's initiator SPI, its low 32 bits (it tells a restarted daemon's reused ids apart). */
export function ikeSpi(ike: ViciSection): number {
  const v = str(ike['initiator-spi']) ?? '';
  return Number.parseInt(v.slice(-8), 16) | 0;
}

/** An IKE SA id as kept in a CHILD SA's row: -1 when it is not a 31-bit number. */
export function ikeIdInt(id: number | string | undefined): number {
  return typeof id === 'number' && id >= 0 && id <= 0x7fffffff ? id : -1;
}
