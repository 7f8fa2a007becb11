// The events collector's state as a state file keeps it (plain JSON data), and back: every value is
// checked as it is read, so that a file that does not hold together is refused, never read wrong.

import {
  C_WIDTH,
  I_ABSENT,
  I_BORN,
  I_CONN,
  I_FLAGS,
  I_INTS,
  I_LISTED_IN,
  I_NEXT,
  I_SPI,
  type RowTable,
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
  T_EVENTS,
  T_FINISHED,
  T_REPORTED,
  T_WIDTH,
} from './events-rows.js';

/** What of an EventState a snapshot is made of (and a restored one filled in with). */
export interface StateTables {
  readonly conns: ReadonlyMap<string, number>;
  readonly connEvents: Float64Array;
  readonly totals: ReadonlyMap<string, ReadonlyMap<string, number>>;
  readonly total: Float64Array;
  readonly child: RowTable;
  readonly ike: RowTable;
  readonly alerts: ReadonlyMap<string, ReadonlyMap<string, { value: number }>>;
  /** Count n alerts of a type about a connection ('' for none). */
  alert(conn: string, type: string, n: number): void;
  /** The row of a connection, made if it has none. */
  conn(name: string): number;
  /** The row of a child config, made if it has none. */
  childTotals(conn: string, child: string): number;
}

/** What a state file holds of an EventState (JSON; see EventState.snapshot). */
export interface EventSnapshot {
  /** IKE SA events per connection: up, down, rekey, and IKE SAs that never got established. */
  conns: Record<string, [number, number, number, number]>;
  /** Per child config: conn, child, CHILD SA events (3), finished (4), reported (4). */
  children: [string, string, number[], number[], number[]][];
  /**
   * Per CHILD SA: id, SPI in, SPI out, index into children, credited (4), last (4), retired, absent,
   * its IKE SA's id (-1: not known), flags.
   */
  sas: [number | string, number, number, number, number[], number[], number, number, number, number][];
  /** Per IKE SA: id, SPI, connection, flags, absent, the id it was rekeyed into (-1: none). */
  ikes: [number | string, number, string, number, number, number][];
  /** Alerts: connection ('' for none), type, count. */
  alerts: [string, string, number][];
}

/**
 * A snapshot of a state file of version 2 (no failed attempts, alerts without their connection) as
 * one of version 3; anything else as it is (restoring checks it).
 */
export function upgradeSnapshot(snap: unknown, version: number): unknown {
  if (version !== 2 || typeof snap !== 'object' || snap === null) return snap;
  const s = snap as { conns?: unknown; alerts?: unknown };
  const conns: Record<string, unknown> = {};
  if (typeof s.conns === 'object' && s.conns !== null)
    for (const [name, ev] of Object.entries(s.conns)) conns[name] = Array.isArray(ev) ? [...ev, 0] : ev;
  const alerts =
    typeof s.alerts === 'object' && s.alerts !== null && !Array.isArray(s.alerts)
      ? Object.entries(s.alerts).map(([type, n]) => ['', type, n])
      : s.alerts;
  return { ...s, conns, alerts };
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

export function toSnapshot(st: StateTables): EventSnapshot {
  const conns: EventSnapshot['conns'] = {};
  for (const [name, c] of st.conns)
    conns[name] = Array.from(st.connEvents.subarray(C_WIDTH * c, C_WIDTH * (c + 1))) as [
      number,
      number,
      number,
      number,
    ];
  const children: EventSnapshot['children'] = [];
  const index = new Map<number, number>();
  for (const [conn, m] of st.totals)
    for (const [child, t] of m) {
      const r = T_WIDTH * t;
      index.set(t, children.length);
      const part = (at: number, n: number) => Array.from(st.total.subarray(r + at, r + at + n));
      children.push([conn, child, part(T_EVENTS, 3), part(T_FINISHED, 4), part(T_REPORTED, 4)]);
    }
  const sas: EventSnapshot['sas'] = [];
  for (let s = 0; s < st.child.keys.length; s++) {
    const id = st.child.keys[s];
    if (id === undefined) continue;
    const i = S_INTS * s;
    const r = S_WIDTH * s;
    sas.push([
      id,
      st.child.ints[i + S_SPI_IN] as number,
      st.child.ints[i + S_SPI_OUT] as number,
      index.get(st.child.ints[i + S_TOTALS] as number) as number,
      Array.from(st.child.floats.subarray(r + S_CREDITED, r + S_CREDITED + 4)),
      Array.from(st.child.floats.subarray(r + S_LAST, r + S_LAST + 4)),
      st.child.ints[i + S_RETIRED] as number,
      st.child.ints[i + S_ABSENT] as number,
      st.child.ints[i + S_IKE] as number,
      st.child.ints[i + S_FLAGS] as number,
    ]);
  }
  const connNames: string[] = [];
  for (const [name, c] of st.conns) connNames[c] = name;
  const ikes: EventSnapshot['ikes'] = [];
  for (let r = 0; r < st.ike.keys.length; r++) {
    const id = st.ike.keys[r];
    if (id === undefined) continue;
    const i = I_INTS * r;
    const ii = st.ike.ints;
    ikes.push([
      id,
      ii[i + I_SPI] as number,
      connNames[ii[i + I_CONN] as number] as string,
      ii[i + I_FLAGS] as number,
      ii[i + I_ABSENT] as number,
      ii[i + I_NEXT] as number,
    ]);
  }
  const alerts: EventSnapshot['alerts'] = [];
  for (const [conn, byType] of st.alerts) for (const [type, a] of byType) alerts.push([conn, type, a.value]);
  return { conns, children, sas, ikes, alerts };
}

export function fromSnapshot(snap: EventSnapshot, st: StateTables): void {
  if (typeof snap !== 'object' || snap === null) throw new Error('not an object');
  if (typeof snap.conns !== 'object' || snap.conns === null || Array.isArray(snap.conns))
    throw new Error('conns: not an object');
  for (const [name, ev] of Object.entries(snap.conns)) {
    const c = st.conn(name);
    st.connEvents.set(counts(ev, C_WIDTH, `conns.${name}`), C_WIDTH * c);
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
      st.child.get(id as number | string) !== undefined
    )
      throw new Error(`sas[${k}]: not a CHILD SA row`);
    const s = st.child.add(id as number | string);
    st.child.floats.set(counts(credited, 4, `sas[${k}] credited`), S_WIDTH * s + S_CREDITED);
    st.child.floats.set(counts(last, 4, `sas[${k}] last`), S_WIDTH * s + S_LAST);
    const i = S_INTS * s;
    st.child.ints[i + S_TOTALS] = t;
    st.child.ints[i + S_LISTED_IN] = -1;
    st.child.ints[i + S_ABSENT] = absent as number;
    st.child.ints[i + S_RETIRED] = retired;
    st.child.ints[i + S_SPI_IN] = spiIn as number;
    st.child.ints[i + S_SPI_OUT] = spiOut as number;
    st.child.ints[i + S_IKE] = ike as number;
    st.child.ints[i + S_FLAGS] = flags as number;
    st.child.ints[i + S_BORN] = 0;
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
      st.ike.get(id as number | string) !== undefined
    )
      throw new Error(`ikes[${k}]: not an IKE SA row`);
    const c = st.conn(conn);
    const r = st.ike.add(id as number | string);
    const i = I_INTS * r;
    st.ike.ints[i + I_CONN] = c;
    st.ike.ints[i + I_SPI] = sp as number;
    st.ike.ints[i + I_LISTED_IN] = -1;
    st.ike.ints[i + I_ABSENT] = absent as number;
    st.ike.ints[i + I_FLAGS] = flags as number;
    st.ike.ints[i + I_BORN] = 0;
    st.ike.ints[i + I_NEXT] = next as number;
  }
  if (!Array.isArray(snap.alerts)) throw new Error('alerts: not a list');
  for (const [k, row] of snap.alerts.entries()) {
    const [conn, type, n] = Array.isArray(row) ? row : [];
    if (typeof conn !== 'string' || typeof type !== 'string' || !isCount(n))
      throw new Error(`alerts[${k}]: not [conn, type, count]`);
    st.alert(conn, type, n);
  }
}
