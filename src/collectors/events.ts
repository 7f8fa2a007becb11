// Collector `events`: a long-lived subscription on a VICI connection of its own (ike-updown,
// child-updown, ike-rekey, child-rekey, and alert where the daemon has it) that counts what polling
// cannot see, and traffic per child config that never goes backwards across rekeys, reconnects and
// tunnel flaps: the final counters of finished CHILD SAs (from the events, or the last scrape that saw
// them) plus the live CHILD SAs' counters at scrape time.
//
// How each SA is credited: events-state.ts; the rows it is kept in: events-tables.ts, events-rows.ts.
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
import {
  type Collector,
  type DetachOptions,
  describe,
  type Logger,
  type ScrapeContext,
  type TargetEnv,
} from './collector.js';
import { type EventSnapshot, EventState } from './events-state.js';
import { type ReadResult, readStateFile, STATE_KIND, STATE_VERSION, writeStateFile } from './state-file.js';
import { parseSince, SAME_RUN_S } from './stats.js';

export { type EventSnapshot, EventState };

export const SUBSCRIBED_EVENTS = ['ike-updown', 'child-updown', 'ike-rekey', 'child-rekey', 'alert'] as const;

/** A state file is written at most this often, and at shutdown. */
const SAVE_EVERY_MS = 60_000;
/** Events kept until the state file is decided on (the first scrape that reaches the daemon). */
const MAX_EARLY_EVENTS = 10_000;

/**
 * The per-target instance: owns the subscription connection and the state (and its file). The users
 * collector is one too, with the state totalled by user instead of child config (users.ts).
 */
export class EventsCollector implements Collector {
  readonly name: string = 'events';
  readonly help: string = events.help;
  readonly defaultEnabled: boolean = true;
  readonly live = false;
  state: EventState;
  readonly client: ViciClient;
  private connected = false;
  private reconnects = 0;
  protected readonly log: Logger;
  private readonly unsupported = new Set<string>();
  private readonly address: string;
  private readonly timeoutMs: number;
  protected readonly stateFile: string | undefined;
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

  constructor(env: TargetEnv, stateFile = env.stateFile, subscribed: readonly string[] = SUBSCRIBED_EVENTS) {
    this.state = this.newState();
    this.log = env.log;
    this.address = env.address;
    this.timeoutMs = env.timeoutMs;
    this.stateFile = stateFile;
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
            this.log.info({ address: this.client.where }, `${this.name}: reconnected`);
          this.connected = true;
        } else {
          this.connected = false;
          this.subscription = -1;
          if (err === undefined) return; // closed by us (shutdown, target removed)
          this.log.warn(
            { address: this.client.where, err: err ? describe(err) : 'closed' },
            `${this.name}: subscription lost, reconnecting`,
          );
        }
      },
      onSubscribed: () => {
        this.subscription = ++this.subscriptions;
      },
      onSubscribeError: (event, err) => this.unsupportedEvent(event, err),
    });
    for (const e of subscribed) {
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
        this.log.info({ event }, `${this.name}: not supported by this daemon, skipped`);
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
          this.state = this.restoreState(f.state);
          this.log.info(
            { file, saved: new Date(f.savedAt).toISOString() },
            `${this.name}: counters continue from the state file`,
          );
        } catch (err) {
          why = `corrupt: ${(err as Error).message}`;
        }
      }
    }
    if (why !== '') {
      if (!saved.ok && saved.missing)
        this.log.info({ file }, `${this.name}: no state file yet, counting from 0`);
      else this.log.warn({ file, why }, `${this.name}: state file not used, counting from 0`);
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
      if (this.saveFailing) this.log.info({ file }, `${this.name}: state file written again`);
      this.saveFailing = false;
    } catch (err) {
      if (!this.saveFailing)
        this.log.warn({ file, err: (err as Error).message }, `${this.name}: cannot write the state file`);
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

  async collect(ctx: ScrapeContext, out: Exposition): Promise<void> {
    // What happened while the subscription was away (or since the state file was written) is
    // counted from this listing: the subscription has not been there all the time since the last.
    const under = this.subscription;
    const reconcile = under === -1 || under !== this.listedUnder;
    if (!ctx.up) {
      this.state.beginScrape(reconcile);
      this.down(out);
      return;
    }
    // The state file is decided on while the listing runs (waiting first would miss the scrape's
    // shared list-sas); the few IKE SAs listed before the decision wait for it.
    let waiting: [string, ViciSection][] | undefined;
    let st = this.state;
    const deciding =
      this.early === undefined
        ? undefined
        : this.decide(ctx).then(() => {
            st = this.state;
            st.beginScrape(reconcile);
            for (const [conn, ike] of waiting ?? []) this.listed(st, conn, ike);
            waiting = undefined;
          });
    if (deciding === undefined) st.beginScrape(reconcile);
    else waiting = [];
    // The daemon answered this scrape: a subscription waiting out its backoff reconnects now, so that
    // the events of a daemon that just came back are not missed for up to the backoff's 30 s.
    const reconnect = this.connected
      ? undefined
      : this.client.reconnectNow(ctx.timeLeft()).catch(() => undefined);
    const walk = ctx.sas((conn, ike) => {
      if (waiting !== undefined) waiting.push([conn, ike]);
      else this.listed(st, conn, ike);
    });
    try {
      await Promise.all([deciding, walk]);
    } catch (err) {
      // (decide never fails: the listing did, and this scrape reports it)
      await deciding;
      throw err;
    }
    await Promise.all([this.configured(ctx, st), reconnect]);
    this.listedUnder = under;
    st.endScrape(true);
    this.write(out);
    this.maybeSave();
  }

  /**
   * When this scrape's listings failed (collect threw): the counters as they stand, so that the
   * series do not vanish from the scrape that reports the failure (success 0).
   */
  down(out: Exposition): void {
    this.state.endScrape(false);
    this.write(out);
  }

  protected newState(): EventState {
    return new EventState();
  }

  protected restoreState(snap: EventSnapshot): EventState {
    return EventState.restore(snap);
  }

  /** The CHILD SAs of one listed IKE SA. */
  protected listed(st: EventState, conn: string, ike: ViciSection): void {
    const r = st.onListedIke(conn, ike);
    for (const [key, child] of subSections(ike['child-sas']))
      st.onListed(conn, childName(key, child), child, r);
  }

  /**
   * After the SAs are listed: configured connections and children get their series from the start
   * (a failed list-conns only means they wait for their first event or SA).
   */
  protected configured(ctx: ScrapeContext, st: EventState): Promise<void> {
    return ctx.conns((c) => st.known(c.name, c.children)).catch(() => {});
  }

  protected write(out: Exposition): void {
    out.write(F.eventsConnected, this.connected ? 1 : 0);
    this.state.write(out);
  }

  /**
   * With a state file: one last listing, so that what passed since the last scrape is kept, then the
   * file (nothing is lost on SIGTERM); none right after a scrape's. A state never decided on leaves
   * the old file as it is.
   */
  async detach(opts: DetachOptions = {}): Promise<void> {
    if (this.stateFile !== undefined && this.early === undefined) {
      const st = this.state;
      st.beginScrape();
      let listed = false;
      // With charon away or not answering (no subscription), the state as of the last scrape, at once.
      if (this.subscription !== -1 && opts.listedJustNow !== true)
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
    throw new Error(`${this.name}: collector used without a target`);
  },
  attach(env) {
    return new EventsCollector(env);
  },
};
