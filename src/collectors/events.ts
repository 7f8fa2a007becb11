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

import { renderLabels } from '../metrics/exposition.js';
import { F } from '../metrics/families.js';
import { str, subSections, ViciClient, type ViciSection, ViciUnknownEventError } from '../vici/index.js';
import { type Collector, describe, type Logger, type TargetEnv } from './collector.js';
import { childName } from './sas.js';

export const SUBSCRIBED_EVENTS = ['ike-updown', 'child-updown', 'ike-rekey', 'child-rekey', 'alert'] as const;

/** bytes in, bytes out, packets in, packets out */
type Counters = [number, number, number, number];
const ZERO = (): Counters => [0, 0, 0, 0];
const SEP = '\u0000';

interface SaEntry {
  /** conn SEP child */
  config: string;
  credited: Counters;
  last: Counters;
  retired: boolean;
  listedIn: number;
  absentScrapes: number;
}

/** How many scrapes a finished or vanished SA is remembered, in case it is listed again. */
const FORGET_AFTER_SCRAPES = 5;

function counters(child: ViciSection): Counters {
  const n = (k: string) => {
    const v = Number(str(child[k]) ?? 0);
    return Number.isFinite(v) ? v : 0;
  };
  return [n('bytes-in'), n('bytes-out'), n('packets-in'), n('packets-out')];
}

function saKey(child: ViciSection): string {
  return `${str(child.uniqueid) ?? ''}/${str(child['spi-in']) ?? ''}/${str(child['spi-out']) ?? ''}`;
}

/** The one IKE section of an event message (its name is the IKE config name). */
function ikeOf(msg: ViciSection): [string, ViciSection] | undefined {
  return subSections(msg)[0];
}

export class EventState {
  readonly ikeEvents = new Map<string, number>();
  readonly childEvents = new Map<string, number>();
  readonly alerts = new Map<string, number>();
  private readonly finished = new Map<string, Counters>();
  private readonly sas = new Map<string, SaEntry>();
  private readonly reported = new Map<string, Counters>();
  private scrapeNo = 0;
  received = 0;

  private bump(map: Map<string, number>, key: string): void {
    map.set(key, (map.get(key) ?? 0) + 1);
  }

  private entry(id: string, config: string): SaEntry {
    let e = this.sas.get(id);
    if (e === undefined) {
      e = { config, credited: ZERO(), last: ZERO(), retired: false, listedIn: -1, absentScrapes: 0 };
      this.sas.set(id, e);
    }
    return e;
  }

  /** Move an SA's counters beyond what it was already credited with into its config's total. */
  private credit(e: SaEntry, c: Counters): void {
    let fin = this.finished.get(e.config);
    if (fin === undefined) {
      fin = ZERO();
      this.finished.set(e.config, fin);
    }
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
    this.credit(this.entry(saKey(child), conn + SEP + name), counters(child));
  }

  /** Handle one event message. */
  onEvent(name: string, msg: ViciSection): void {
    this.received++;
    if (name === 'alert') {
      this.bump(this.alerts, str(msg.type) ?? '');
      return;
    }
    const ike = ikeOf(msg);
    if (ike === undefined) return;
    const [conn, sa] = ike;
    const updown = str(msg.up) === 'yes' ? 'up' : 'down';
    if (name === 'ike-updown') this.bump(this.ikeEvents, conn + SEP + updown);
    else if (name === 'ike-rekey') this.bump(this.ikeEvents, `${conn + SEP}rekey`);
    else if (name === 'child-updown') {
      for (const [key, child] of subSections(sa['child-sas'])) {
        const child_ = childName(key, child);
        this.bump(this.childEvents, conn + SEP + child_ + SEP + updown);
        if (updown === 'down') this.finish(conn, child_, child);
      }
    } else if (name === 'child-rekey') {
      // Here the section is the plain child name, holding `old` and `new`.
      for (const [key, pair] of subSections(sa['child-sas'])) {
        const old = pair.old;
        const child_ = str((old as ViciSection | undefined)?.name) ?? key;
        this.bump(this.childEvents, `${conn}${SEP}${child_}${SEP}rekey`);
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
    const e = this.entry(saKey(child), conn + SEP + name);
    e.listedIn = this.scrapeNo;
    e.absentScrapes = 0;
    const c = counters(child);
    if (e.retired) this.credit(e, c);
    else e.last = c;
  }

  /** After a complete listing: credit SAs that vanished unseen, forget old ones, return the totals. */
  endScrape(listed: boolean): Map<string, Counters> {
    const live = new Map<string, Counters>();
    if (listed) {
      for (const [id, e] of this.sas) {
        if (e.listedIn === this.scrapeNo) {
          if (!e.retired) {
            const sum = live.get(e.config) ?? ZERO();
            for (let i = 0; i < 4; i++) sum[i] = (sum[i] as number) + (e.last[i] as number);
            live.set(e.config, sum);
          }
          continue;
        }
        if (!e.retired) this.credit(e, e.last);
        if (++e.absentScrapes > FORGET_AFTER_SCRAPES) this.sas.delete(id);
      }
    }
    const configs = new Set([...this.finished.keys(), ...live.keys(), ...this.reported.keys()]);
    for (const config of configs) {
      const total = ZERO();
      const fin = this.finished.get(config);
      const liv = listed ? live.get(config) : undefined;
      const prev = this.reported.get(config);
      for (let i = 0; i < 4; i++) {
        const v = (fin?.[i] ?? 0) + (liv?.[i] ?? 0);
        // Never backwards: a total only stands still when what it saw last is gone from view.
        total[i] = Math.max(v, prev?.[i] ?? 0);
      }
      this.reported.set(config, total);
    }
    return this.reported;
  }

  /** Make sure a configured child config has series from the start. */
  known(conn: string, child?: string): void {
    if (child === undefined) {
      for (const e of ['up', 'down', 'rekey'])
        if (!this.ikeEvents.has(conn + SEP + e)) this.ikeEvents.set(conn + SEP + e, 0);
      return;
    }
    for (const e of ['up', 'down', 'rekey']) {
      const k = conn + SEP + child + SEP + e;
      if (!this.childEvents.has(k)) this.childEvents.set(k, 0);
    }
    if (!this.reported.has(conn + SEP + child)) this.reported.set(conn + SEP + child, ZERO());
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
      const walk = ctx.sas((conn, ike) => {
        for (const [key, child] of subSections(ike['child-sas']))
          st.onListed(conn, childName(key, child), child);
      });
      const [configured] = await Promise.all([ctx.conns().catch(() => []), walk]);
      for (const [conn, c] of configured) {
        st.known(conn);
        for (const [child] of subSections(c.children)) st.known(conn, child);
      }
      listed = true;
    }
    const totals = st.endScrape(listed);
    out.sample(F.eventsConnected, '', this.connected ? 1 : 0);
    for (const [k, v] of st.ikeEvents) {
      const [conn = '', event = ''] = k.split(SEP);
      out.sample(F.ikeSaEvents, renderLabels(F.ikeSaEvents.labels, [conn, event]), v);
    }
    for (const [k, v] of st.childEvents) {
      const [conn = '', child = '', event = ''] = k.split(SEP);
      out.sample(F.childSaEvents, renderLabels(F.childSaEvents.labels, [conn, child, event]), v);
    }
    for (const [alert, v] of st.alerts) out.sample(F.alerts, renderLabels(F.alerts.labels, [alert]), v);
    for (const [k, c] of totals) {
      const [conn = '', child = ''] = k.split(SEP);
      const l = renderLabels(['conn', 'child'], [conn, child]);
      out.sample(F.connChildBytes, `${l},direction="in"`, c[0]);
      out.sample(F.connChildBytes, `${l},direction="out"`, c[1]);
      out.sample(F.connChildPackets, `${l},direction="in"`, c[2]);
      out.sample(F.connChildPackets, `${l},direction="out"`, c[3]);
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
