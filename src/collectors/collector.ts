// What a collector is, and how one scrape runs them all: a `version` probe decides strongswan_up,
// then every enabled collector runs concurrently against one shared context, each into its own
// Exposition that is kept only when the collector succeeds. One list-sas stream feeds every collector
// that walks the SAs, one list-conns stream after it every collector that reads the configured
// connections. Collectors never throw past runScrape; failures become success=0 and a log line.

import type { Logger } from '../log.js';
import { Exposition } from '../metrics/exposition.js';
import { F } from '../metrics/families.js';
import type { ChunkPool } from '../metrics/pool.js';
import {
  type DecodeOptions,
  isSection,
  type Shape,
  str,
  strList,
  subSections,
  type ViciClient,
  type ViciInput,
  type ViciSection,
  ViciTimeoutError,
} from '../vici/index.js';

export type SaHandler = (conn: string, ike: ViciSection) => void;

export type { Logger };

/** Settings that change what collectors write (flags). */
export interface CollectorOptions {
  /** Leave remote identities (peer IKE ids, EAP and XAuth ids, subjects of peer certificates) out of labels. */
  readonly hideRemoteIdentities: boolean;
  /** The users collector tracks at most this many users. */
  readonly maxUsers: number;
  /** The users collector forgets a user not seen for this long (ms). */
  readonly usersForgetAfterMs: number;
}

export const DEFAULT_OPTIONS: CollectorOptions = {
  hideRemoteIdentities: false,
  maxUsers: 20_000,
  usersForgetAfterMs: 24 * 3600_000,
};

export interface ScrapeContext {
  readonly client: ViciClient;
  readonly options: CollectorOptions;
  /** Whether the daemon answered this scrape's version probe. */
  readonly up: boolean;
  /** The daemon's answer to that probe (`version`: daemon, version, sysname, release, machine). */
  readonly version: ViciSection | undefined;
  /** Scrape start, seconds since the epoch: the base of every *_timestamp_seconds value. */
  readonly now: number;
  /** Milliseconds left until the scrape's deadline (at least 1). */
  timeLeft(): number;
  /** One VICI command within the scrape's deadline, its reply decoded as text. */
  command(name: string, msg?: ViciInput): Promise<ViciSection>;
  /**
   * One streamed VICI command within the scrape's deadline, each message decoded as text but for
   * `binaryKeys` (kept as bytes); resolves when the stream is complete.
   */
  stream(
    name: string,
    msg: ViciInput | undefined,
    onEvent: (msg: ViciSection) => void,
    binaryKeys?: ReadonlySet<string>,
  ): Promise<void>;
  /** Walk every IKE SA of one shared `list-sas` stream; resolves when the listing is complete. */
  sas(handler: SaHandler): Promise<void>;
  /**
   * Each configured connection (`list-conns`), summarised as its message arrives: what collectors
   * use of them (see `ConnSummary`; a collector that needs more adds it there and to `CONNS_SHAPE`).
   * Summaries are not kept (10,000 of them held several MB through a scrape): a collector keeps
   * what it needs. One listing per scrape, shared by every collector that asks before it starts; it
   * starts once the `list-sas` stream is done, so a handler may use what it saw of the SAs. Resolves
   * when the listing is complete.
   */
  conns(each: (c: ConnSummary) => void): Promise<void>;
}

export interface Collector {
  /** One word: file name, registry key, flag suffix (`--collector.NAME`) and `collector` label. */
  readonly name: string;
  readonly help: string;
  readonly defaultEnabled: boolean;
  /** Whether it needs the daemon in this scrape (skipped when the version probe fails). Default true. */
  readonly live?: boolean;
  collect(ctx: ScrapeContext, out: Exposition): Promise<void>;
  /** Written instead of collect() when the daemon could not be reached. */
  down?(out: Exposition): void;
  /**
   * For collectors that keep state per target (a long-lived event subscription, say): make the
   * instance for one target. The target calls detach() on it when it closes (and waits for it at
   * shutdown).
   */
  attach?(env: TargetEnv): Collector & { detach(opts?: DetachOptions): void | Promise<void> };
}

export interface DetachOptions {
  /** A scrape has just listed the SAs (a one-shot run): their state needs no listing of its own. */
  readonly listedJustNow?: boolean;
}

/** What a stateful collector learns about the target it is attached to. */
export interface TargetEnv {
  readonly address: string;
  readonly timeoutMs: number;
  readonly log: Logger;
  /** Where the events collector keeps its counters across restarts (none: it starts from 0). */
  readonly stateFile?: string;
  /** The settings its scrapes run with. */
  readonly options?: CollectorOptions;
}

/** A configured connection, as collectors see it. */
export interface ConnSummary {
  readonly name: string;
  /** `version` of list-conns: IKEv1, IKEv2 or 0 (any). */
  readonly version: string;
  /** `local_addrs`, joined with ',' (as strongswan_conn_info shows them). */
  readonly localAddrs: string;
  /** `remote_addrs`, joined with ','. */
  readonly remoteAddrs: string;
  /** Names of its CHILD configs. */
  readonly children: readonly string[];
  /** `local_port` (strongSwan 6.0.3 and later; '' before). */
  readonly localPort: string;
  /** `remote_port` (strongSwan 6.0.3 and later; '' before). */
  readonly remotePort: string;
}

/**
 * What a scrape decodes of each configured connection: decoding only this (the authentication rounds,
 * proposals and traffic selectors of every connection are skipped unread) makes list-conns of
 * 10,000 connections several times cheaper.
 */
export const CONNS_SHAPE: Shape = {
  '*': {
    version: true,
    local_addrs: true,
    remote_addrs: true,
    local_port: true,
    remote_port: true,
    children: { '*': {} },
  },
};

/**
 * One listing (`list-sas`, `list-conns`) shared by every collector that asks for it before it
 * starts; one that asks later gets a listing of its own. Each section of the reply is made into an
 * item once (`item`) and handed to every handler; a handler that throws is skipped from then on and
 * its error given to that collector alone.
 */
class SharedListing<T> {
  private handlers: { h: (name: string, item: T) => void; error: unknown }[] = [];
  private run: Promise<void> | null = null;
  private started = false;

  constructor(
    private readonly ctx: () => ScrapeContext,
    private readonly command: string,
    private readonly opts: {
      args?: ViciInput;
      decode: DecodeOptions;
      item: (name: string, section: ViciSection) => T;
      /** What the listing waits for before it starts. */
      after?: () => Promise<void>;
    },
  ) {}

  /** Settles when the shared listing is done (at once when no collector asked for one). */
  done(): Promise<void> {
    return this.run === null ? Promise.resolve() : this.run.catch(() => {});
  }

  add(h: (name: string, item: T) => void): Promise<void> {
    if (this.started) return this.stream([{ h, error: undefined }]);
    const entry = { h, error: undefined as unknown };
    this.handlers.push(entry);
    if (this.run === null) {
      // On the next turn (after what it waits for): every collector that asks in this turn, or in
      // the turn that ends the wait, shares the listing.
      this.run = (this.opts.after?.() ?? Promise.resolve())
        .then(() => new Promise<void>((r) => setImmediate(r)))
        .then(() => {
          this.started = true;
          return this.stream(this.handlers);
        });
    }
    return this.run.then(() => {
      if (entry.error !== undefined) throw entry.error;
    });
  }

  private async stream(hs: { h: (name: string, item: T) => void; error: unknown }[]): Promise<void> {
    const ctx = this.ctx();
    const { item } = this.opts;
    await ctx.client.stream(
      this.command,
      this.opts.args,
      (msg) => {
        for (const name in msg) {
          const section = msg[name];
          if (!isSection(section)) continue;
          const it = item(name, section);
          for (const e of hs) {
            if (e.error !== undefined) continue;
            try {
              e.h(name, it);
            } catch (err) {
              e.error = err;
            }
          }
        }
      },
      { timeoutMs: ctx.timeLeft(), decode: this.opts.decode },
    );
    if (hs.length === 1 && hs[0]?.error !== undefined) throw hs[0].error;
  }
}

/** Collectors read replies as text (numbers and names), binary values only where they ask. */
const TEXT = { text: true } as const;

export interface ScrapeResult {
  up: boolean;
  exposition: Exposition;
}

/**
 * Run one scrape of `collectors` against the client, bounded by `timeoutMs`. Never rejects.
 * `pool`: where the exposition's chunks come from (the target's; none: allocated).
 */
export async function runScrape(
  client: ViciClient,
  collectors: readonly Collector[],
  timeoutMs: number,
  log: Logger,
  clock: () => number = Date.now,
  options: CollectorOptions = DEFAULT_OPTIONS,
  pool?: ChunkPool,
): Promise<ScrapeResult> {
  const started = Date.now();
  const nowSeconds = Math.floor(clock() / 1000);
  const deadline = started + timeoutMs;
  let up = true;
  let versionReply: ViciSection | undefined;
  const ctx: ScrapeContext = {
    client,
    options,
    get up() {
      return up;
    },
    get version() {
      return versionReply;
    },
    now: nowSeconds,
    timeLeft: () => Math.max(1, deadline - Date.now()),
    command: (name, msg) => client.command(name, msg, { timeoutMs: ctx.timeLeft(), decode: TEXT }),
    stream: async (name, msg, onEvent, binaryKeys) => {
      const decode = binaryKeys === undefined ? TEXT : { text: true, binaryKeys };
      await client.stream(name, msg, onEvent, { timeoutMs: ctx.timeLeft(), decode });
    },
    sas: (h) => sas.add(h),
    conns: (each) => conns.add((_, c) => each(c)),
  };
  const sas = new SharedListing(() => ctx, 'list-sas', {
    args: { noblock: 'yes' },
    decode: { text: true },
    item: (_, ike) => ike,
  });
  const conns = new SharedListing(() => ctx, 'list-conns', {
    decode: { text: true, select: CONNS_SHAPE },
    item: summarise,
    after: () => sas.done(),
  });
  const out = new Exposition({ pool });

  try {
    // The first call of the scrape gets the whole budget, so its timeout message names the configured one.
    versionReply = await client.command('version', undefined, { timeoutMs, decode: { text: true } });
  } catch (err) {
    up = false;
    log.warn({ err: describe(err), address: client.where }, 'scrape: daemon unreachable');
  }
  out.write(F.up, up ? 1 : 0);

  // Collectors that fail for one cause (a listing they share, a dropped connection) make one line.
  const failures = new Map<string, string[]>();
  const results = await Promise.all(
    collectors.map(async (c) => {
      const t0 = performance.now();
      const mine = out.part();
      let ok = false;
      if (up || c.live === false) {
        try {
          await c.collect(ctx, mine);
          out.absorb(mine);
          ok = true;
        } catch (err) {
          // Its part is not recycled: a listing may still call its handler, which writes into it.
          const why = describe(err);
          failures.set(why, [...(failures.get(why) ?? []), c.name]);
        }
      }
      if (!ok && c.down) {
        const d = out.part();
        c.down(d);
        out.absorb(d);
      }
      return { name: c.name, ok, seconds: Math.round((performance.now() - t0) * 1e6) / 1e9 };
    }),
  );
  // In registry order, whatever order the collectors finished in.
  for (const r of results) {
    out.write(F.collectorDuration, r.seconds, null, r.name);
    out.write(F.collectorSuccess, r.ok ? 1 : 0, null, r.name);
  }

  for (const [why, names] of failures) {
    log.warn(
      { collectors: names.sort().join(','), err: why, address: client.where },
      'scrape: collectors failed',
    );
  }
  return { up, exposition: out };
}

function summarise(name: string, c: ViciSection): ConnSummary {
  return {
    name,
    version: str(c.version) ?? '',
    localAddrs: strList(c.local_addrs).join(','),
    remoteAddrs: strList(c.remote_addrs).join(','),
    children: subSections(c.children).map(([child]) => child),
    localPort: str(c.local_port) ?? '',
    remotePort: str(c.remote_port) ?? '',
  };
}

/** One line about an error: its message, and its code where it has one; never a stack or a body. */
export function describe(err: unknown): string {
  if (err instanceof ViciTimeoutError) return err.message;
  if (err instanceof Error)
    return 'code' in err && typeof err.code === 'string' ? `${err.message} [${err.code}]` : err.message;
  return String(err);
}
