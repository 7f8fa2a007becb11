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

import { LabelArena, labelBytes, renderLabels } from '../metrics/exposition.js';
import { F } from '../metrics/families.js';
import { str, subSections, ViciClient, type ViciSection, ViciUnknownEventError } from '../vici/index.js';
import { type Collector, describe, type Logger, type TargetEnv } from './collector.js';
import { childName } from './sas.js';

export const SUBSCRIBED_EVENTS = ['ike-updown', 'child-updown', 'ike-rekey', 'child-rekey', 'alert'] as const;

/** bytes in, bytes out, packets in, packets out */
type Counters = [number, number, number, number];
const ZERO = (): Counters => [0, 0, 0, 0];
const SEP = '\u0000';
const EVENT_NAMES = ['up', 'down', 'rekey'] as const;
const IN = labelBytes(',direction="in"');
const OUT = labelBytes(',direction="out"');

/** `,event="up"`, `,event="down"`, `,event="rekey"`: the last label of the event families. */
const EVENT_SUFFIXES = EVENT_NAMES.map((e) => labelBytes(`,event="${e}"`));
type EventName = (typeof EVENT_NAMES)[number];
const EVENT_INDEX: Readonly<Record<EventName, 0 | 1 | 2>> = { up: 0, down: 1, rekey: 2 };

/** One alert series: its labels are rendered once, when it first appears. */
export interface Series {
  /** `alert="..."` as bytes, written into every scrape. */
  readonly bytes: Buffer;
  value: number;
}

/** The IKE event counters of one connection (up, down, rekey). */
interface ConnRecord {
  /** `conn="..."` */
  readonly bytes: Buffer;
  readonly events: [number, number, number];
}

/**
 * One child config (conn, child): its CHILD SA event counters and its traffic totals. One record
 * per child config keeps the state small at scale (10,000 tunnels: ~15 MB instead of ~50 MB).
 */
export interface ChildTotals {
  /** `conn="...",child="..."` */
  readonly bytes: Buffer;
  /** CHILD SA events: up, down, rekey. */
  readonly events: [number, number, number];
  /** Credited by finished or vanished CHILD SAs. */
  readonly finished: Counters;
  /** Sum of the live CHILD SAs of the current scrape, and the scrape it belongs to. */
  readonly live: Counters;
  liveIn: number;
  /** What was last written: a total never goes backwards. */
  readonly reported: Counters;
}

interface SaEntry {
  totals: ChildTotals;
  credited: Counters;
  readonly last: Counters;
  retired: boolean;
  listedIn: number;
  absentScrapes: number;
}

/** How many scrapes a finished or vanished SA is remembered, in case it is listed again. */
const FORGET_AFTER_SCRAPES = 5;

function counters(child: ViciSection, into: Counters = ZERO()): Counters {
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

/** Counters of the CHILD SA being listed (copied where they are kept: no array per SA and scrape). */
const SCRATCH: Counters = ZERO();

function saKey(child: ViciSection): string {
  return `${str(child.uniqueid) ?? ''}/${str(child['spi-in']) ?? ''}/${str(child['spi-out']) ?? ''}`;
}

/** The one IKE section of an event message (its name is the IKE config name). */
function ikeOf(msg: ViciSection): [string, ViciSection] | undefined {
  return subSections(msg)[0];
}

export class EventState {
  /** by conn */
  readonly conns = new Map<string, ConnRecord>();
  /** by alert type */
  readonly alerts = new Map<string, Series>();
  /** by conn SEP child */
  readonly totals = new Map<string, ChildTotals>();
  private readonly sas = new Map<string, SaEntry>();
  private scrapeNo = 0;
  received = 0;
  /** The label bytes of conns, totals and alerts. */
  private readonly arena = new LabelArena();

  private conn(conn: string): ConnRecord {
    let c = this.conns.get(conn);
    if (c === undefined) {
      c = { bytes: this.arena.keep(renderLabels(['conn'], [conn])), events: [0, 0, 0] };
      this.conns.set(conn, c);
    }
    return c;
  }

  /** How many IKE SA events of this kind the connection had (for tests). */
  ikeEvents(conn: string, event: EventName): number | undefined {
    return this.conns.get(conn)?.events[EVENT_INDEX[event]];
  }

  /** How many CHILD SA events of this kind the child config had. */
  childEvents(conn: string, child: string, event: EventName): number | undefined {
    return this.totals.get(conn + SEP + child)?.events[EVENT_INDEX[event]];
  }

  private childTotals(conn: string, child: string): ChildTotals {
    const key = conn + SEP + child;
    let t = this.totals.get(key);
    if (t === undefined) {
      t = {
        bytes: this.arena.keep(renderLabels(['conn', 'child'], [conn, child])),
        events: [0, 0, 0],
        finished: ZERO(),
        live: ZERO(),
        liveIn: -1,
        reported: ZERO(),
      };
      this.totals.set(key, t);
    }
    return t;
  }

  private entry(id: string, conn: string, child: string): SaEntry {
    let e = this.sas.get(id);
    if (e === undefined) {
      e = {
        totals: this.childTotals(conn, child),
        credited: ZERO(),
        last: ZERO(),
        retired: false,
        listedIn: -1,
        absentScrapes: 0,
      };
      this.sas.set(id, e);
    }
    return e;
  }

  /** Move an SA's counters beyond what it was already credited with into its config's total. */
  private credit(e: SaEntry, c: Counters): void {
    const fin = e.totals.finished;
    for (let i = 0; i < 4; i++) {
      const d = (c[i] as number) - (e.credited[i] as number);
      if (d > 0) {
        fin[i] = (fin[i] as number) + d;
        e.credited[i] = c[i] as number;
      }
    }
    e.retired = true;
  }

  /** A CHILD SA is gone (down) or replaced (the old half of a rekey): credit its final counters. */
  private finish(conn: string, name: string, child: ViciSection): void {
    this.credit(this.entry(saKey(child), conn, name), counters(child));
  }

  /** Handle one event message. */
  onEvent(name: string, msg: ViciSection): void {
    this.received++;
    if (name === 'alert') {
      const type = str(msg.type) ?? '';
      let a = this.alerts.get(type);
      if (a === undefined) {
        a = { bytes: this.arena.keep(renderLabels(F.alerts.labels, [type])), value: 0 };
        this.alerts.set(type, a);
      }
      a.value++;
      return;
    }
    const ike = ikeOf(msg);
    if (ike === undefined) return;
    const [conn, sa] = ike;
    const updown = str(msg.up) === 'yes' ? 'up' : 'down';
    if (name === 'ike-updown') this.conn(conn).events[EVENT_INDEX[updown]]++;
    else if (name === 'ike-rekey') this.conn(conn).events[EVENT_INDEX.rekey]++;
    else if (name === 'child-updown') {
      for (const [key, child] of subSections(sa['child-sas'])) {
        const child_ = childName(key, child);
        this.childTotals(conn, child_).events[EVENT_INDEX[updown]]++;
        if (updown === 'down') this.finish(conn, child_, child);
      }
    } else if (name === 'child-rekey') {
      // Here the section is the plain child name, holding `old` and `new`.
      for (const [key, pair] of subSections(sa['child-sas'])) {
        const old = pair.old;
        const child_ = str((old as ViciSection | undefined)?.name) ?? key;
        this.childTotals(conn, child_).events[EVENT_INDEX.rekey]++;
        if (old !== undefined && typeof old === 'object' && !Array.isArray(old) && !Buffer.isBuffer(old)) {
          this.finish(conn, child_, old);
        }
      }
    }
  }

  beginScrape(): void {
    this.scrapeNo++;
  }

  /** A CHILD SA as listed in this scrape. */
  onListed(conn: string, name: string, child: ViciSection): void {
    const e = this.entry(saKey(child), conn, name);
    e.listedIn = this.scrapeNo;
    e.absentScrapes = 0;
    const c = counters(child, SCRATCH);
    if (e.retired) this.credit(e, c);
    else for (let i = 0; i < 4; i++) e.last[i] = c[i] as number;
  }

  /** After a complete listing: credit SAs that vanished unseen, forget old ones, update the totals. */
  endScrape(listed: boolean): ReadonlyMap<string, ChildTotals> {
    const now = this.scrapeNo;
    if (listed) {
      for (const [id, e] of this.sas) {
        if (e.listedIn === now) {
          if (!e.retired) {
            const t = e.totals;
            if (t.liveIn !== now) {
              t.live.fill(0);
              t.liveIn = now;
            }
            for (let i = 0; i < 4; i++) t.live[i] = (t.live[i] as number) + (e.last[i] as number);
          }
          continue;
        }
        if (!e.retired) this.credit(e, e.last);
        if (++e.absentScrapes > FORGET_AFTER_SCRAPES) this.sas.delete(id);
      }
    }
    for (const t of this.totals.values()) {
      const live = listed && t.liveIn === now ? t.live : undefined;
      for (let i = 0; i < 4; i++) {
        const v = (t.finished[i] as number) + (live?.[i] ?? 0);
        // Never backwards: a total only stands still when what it saw last is gone from view.
        if (v > (t.reported[i] as number)) t.reported[i] = v;
      }
    }
    return this.totals;
  }

  /** Make sure a configured connection, and a configured child of it, have series from the start. */
  known(conn: string, child?: string): void {
    if (child === undefined) this.conn(conn);
    else this.childTotals(conn, child);
  }
}

/** The per-target instance: owns the subscription connection and the state. */
class EventsCollector implements Collector {
  readonly name = 'events';
  readonly help = events.help;
  readonly defaultEnabled = true;
  readonly live = false;
  readonly state = new EventState();
  readonly client: ViciClient;
  private connected = false;
  private reconnects = 0;
  private readonly log: Logger;
  private readonly unsupported = new Set<string>();

  constructor(env: TargetEnv) {
    this.log = env.log;
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
          if (err === undefined) return; // closed by us (shutdown, target removed)
          this.log.warn(
            { address: this.client.where, err: err ? describe(err) : 'closed' },
            'events: subscription lost, reconnecting',
          );
        }
      },
      onSubscribeError: (event, err) => this.unsupportedEvent(event, err),
    });
    for (const e of SUBSCRIBED_EVENTS) {
      this.client
        .subscribe([e], (name, msg) => this.state.onEvent(name, msg))
        .catch((err: unknown) => this.unsupportedEvent(e, err));
    }
  }

  private unsupportedEvent(event: string, err: unknown): void {
    if (err instanceof ViciUnknownEventError) {
      if (!this.unsupported.has(event))
        this.log.info({ event }, 'events: not supported by this daemon, skipped');
      this.unsupported.add(event);
    }
    // Connection failures are logged by onState and retried with backoff.
  }

  async collect(
    ctx: Parameters<Collector['collect']>[0],
    out: Parameters<Collector['collect']>[1],
  ): Promise<void> {
    const st = this.state;
    st.beginScrape();
    let listed = false;
    if (ctx.up) {
      // The daemon answered this scrape: a subscription waiting out its backoff reconnects now, so that
      // the events of a daemon that just came back are not missed for up to the backoff's 30 s.
      const reconnect = this.connected
        ? undefined
        : this.client.reconnectNow(ctx.timeLeft()).catch(() => undefined);
      const walk = ctx.sas((conn, ike) => {
        for (const [key, child] of subSections(ike['child-sas']))
          st.onListed(conn, childName(key, child), child);
      });
      const [configured] = await Promise.all([ctx.conns().catch(() => []), walk, reconnect]);
      for (const c of configured) {
        st.known(c.name);
        for (const child of c.children) st.known(c.name, child);
      }
      listed = true;
    }
    this.write(out, st.endScrape(listed));
  }

  /**
   * When this scrape's listings failed (collect threw): the counters as they stand, so that the
   * series do not vanish from the scrape that reports the failure (success 0).
   */
  down(out: Parameters<Collector['collect']>[1]): void {
    this.write(out, this.state.endScrape(false));
  }

  private write(out: Parameters<Collector['collect']>[1], totals: ReadonlyMap<string, ChildTotals>): void {
    const st = this.state;
    out.sample(F.eventsConnected, '', this.connected ? 1 : 0);
    for (const c of st.conns.values())
      for (let i = 0; i < 3; i++)
        out.put(F.ikeSaEvents, c.bytes, EVENT_SUFFIXES[i] as Buffer, c.events[i] as number);
    for (const t of totals.values())
      for (let i = 0; i < 3; i++)
        out.put(F.childSaEvents, t.bytes, EVENT_SUFFIXES[i] as Buffer, t.events[i] as number);
    for (const s of st.alerts.values()) out.put(F.alerts, s.bytes, null, s.value);
    for (const t of totals.values()) {
      const c = t.reported;
      out.put(F.connChildBytes, t.bytes, IN, c[0]);
      out.put(F.connChildBytes, t.bytes, OUT, c[1]);
      out.put(F.connChildPackets, t.bytes, IN, c[2]);
      out.put(F.connChildPackets, t.bytes, OUT, c[3]);
    }
  }

  detach(): void {
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
