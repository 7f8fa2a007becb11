// What a collector is, and how one scrape runs them all: a `version` probe decides strongswan_up,
// then every enabled collector runs concurrently against one shared context, each into its own
// Exposition that is kept only when the collector succeeds. One list-sas stream feeds every collector
// that walks the SAs. Collectors never throw past runScrape; failures become success=0 and a log line.

import { deflateCatchUp, Exposition, renderLabels } from '../metrics/exposition.js';
import { F } from '../metrics/families.js';
import {
  isSection,
  type Shape,
  str,
  strList,
  subSections,
  type ViciClient,
  type ViciSection,
  ViciTimeoutError,
} from '../vici/index.js';

export type SaHandler = (conn: string, ike: ViciSection) => void;

export interface Logger {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** Settings that change what collectors write (flags). */
export interface CollectorOptions {
  /** Leave remote identities (peer IKE ids, subjects of peer certificates) out of labels. */
  readonly hideRemoteIdentities: boolean;
}

export const DEFAULT_OPTIONS: CollectorOptions = { hideRemoteIdentities: false };

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
   * instance for one target. The target calls detach() on it when it closes.
   */
  attach?(env: TargetEnv): Collector & { detach(): void };
}

/** What a stateful collector learns about the target it is attached to. */
export interface TargetEnv {
  readonly address: string;
  readonly timeoutMs: number;
  readonly log: Logger;
}

/** A configured connection, as collectors see it. */
export interface ConnSummary {
  readonly name: string;
  /** `version` of list-conns: IKEv1, IKEv2 or 0 (any). */
  readonly version: string;
  /** `local_addrs`, joined with ',' (kept as one string: 10,000 summaries live through a scrape). */
  readonly localAddrs: string;
  /** `remote_addrs`, joined with ','. */
  readonly remoteAddrs: string;
  /** Names of its CHILD configs. */
  readonly children: readonly string[];
}

/**
 * What a scrape decodes of each configured connection: decoding only this (the authentication rounds,
 * proposals and traffic selectors of every connection are skipped unread) makes list-conns of
 * 10,000 connections several times cheaper.
 */
export const CONNS_SHAPE: Shape = {
  '*': { version: true, local_addrs: true, remote_addrs: true, children: { '*': {} } },
};

/** One `list-conns` listing shared by every collector that asks for it before it starts. */
class SharedConnsStream {
  private handlers: { h: (c: ConnSummary) => void; error: unknown }[] = [];
  private run: Promise<void> | null = null;
  private started = false;

  /** `after`: what the listing waits for (the `list-sas` stream: see ScrapeContext.conns). */
  constructor(
    private readonly ctx: () => ScrapeContext,
    private readonly after: () => Promise<void>,
  ) {}

  add(h: (c: ConnSummary) => void): Promise<void> {
    if (this.started) return this.stream([{ h, error: undefined }]);
    const entry = { h, error: undefined as unknown };
    this.handlers.push(entry);
    if (this.run === null) {
      // After the SA listing, and on the next turn: every collector that asks in the turn that
      // listing ends in (those that waited for it) shares this one.
      this.run = this.after()
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

  private async stream(hs: { h: (c: ConnSummary) => void; error: unknown }[]): Promise<void> {
    const ctx = this.ctx();
    await ctx.client.stream(
      'list-conns',
      undefined,
      (msg) => {
        for (const name in msg) {
          const c = msg[name];
          if (!isSection(c)) continue;
          const summary = summarise(name, c);
          for (const e of hs) {
            if (e.error !== undefined) continue;
            try {
              e.h(summary);
            } catch (err) {
              e.error = err;
            }
          }
        }
      },
      { timeoutMs: ctx.timeLeft(), decode: { text: true, select: CONNS_SHAPE } },
    );
    if (hs.length === 1 && hs[0]?.error !== undefined) throw hs[0].error;
  }
}

/** One listing shared by every collector that asks for it before it starts. */
class SharedSaStream {
  private handlers: { h: SaHandler; error: unknown }[] = [];
  private run: Promise<void> | null = null;
  private started = false;

  constructor(private readonly ctx: () => ScrapeContext) {}

  /** Settles when the shared listing is done (at once when no collector asked for one). */
  done(): Promise<void> {
    return this.run === null ? Promise.resolve() : this.run.catch(() => {});
  }

  add(h: SaHandler): Promise<void> {
    if (this.started) return this.stream([{ h, error: undefined }]);
    const entry = { h, error: undefined as unknown };
    this.handlers.push(entry);
    if (this.run === null) {
      // Start on the next turn, so that every collector started in this turn shares the stream.
      this.run = new Promise<void>((r) => setImmediate(r)).then(() => {
        this.started = true;
        return this.stream(this.handlers);
      });
    }
    return this.run.then(() => {
      if (entry.error !== undefined) throw entry.error;
    });
  }

  private async stream(hs: { h: SaHandler; error: unknown }[]): Promise<void> {
    const ctx = this.ctx();
    await ctx.client.stream(
      'list-sas',
      { noblock: 'yes' },
      (msg) => {
        for (const name in msg) {
          const ike = msg[name];
          if (typeof ike !== 'object' || Buffer.isBuffer(ike) || Array.isArray(ike)) continue;
          for (const e of hs) {
            if (e.error !== undefined) continue;
            try {
              e.h(name, ike);
            } catch (err) {
              e.error = err;
            }
          }
        }
        // A scrape for a gzip client waits here when deflating falls behind (see Exposition).
        return deflateCatchUp();
      },
      { timeoutMs: ctx.timeLeft(), decode: { text: true } },
    );
    if (hs.length === 1 && hs[0]?.error !== undefined) throw hs[0].error;
  }
}

export interface ScrapeResult {
  up: boolean;
  exposition: Exposition;
}

/**
 * Run one scrape of `collectors` against the client, bounded by `timeoutMs`. Never rejects.
 * `deflate`: the scrape is made for a gzip client (see Exposition).
 */
export async function runScrape(
  client: ViciClient,
  collectors: readonly Collector[],
  timeoutMs: number,
  log: Logger,
  clock: () => number = Date.now,
  options: CollectorOptions = DEFAULT_OPTIONS,
  deflate = false,
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
    sas: (h) => shared.add(h),
    conns: (each) => conns.add(each),
  };
  const shared = new SharedSaStream(() => ctx);
  const conns = new SharedConnsStream(
    () => ctx,
    () => shared.done(),
  );
  const out = new Exposition(deflate);

  try {
    // The first call of the scrape gets the whole budget, so its timeout message names the configured one.
    versionReply = await client.command('version', undefined, { timeoutMs, decode: { text: true } });
  } catch (err) {
    up = false;
    log.warn({ err: describe(err), address: client.where }, 'scrape: daemon unreachable');
  }
  out.sample(F.up, '', up ? 1 : 0);

  // Collectors that fail for one cause (a listing they share, a dropped connection) make one line.
  const failures = new Map<string, string[]>();
  const results = await Promise.all(
    collectors.map(async (c) => {
      const t0 = performance.now();
      const mine = new Exposition(deflate);
      let ok = false;
      if (up || c.live === false) {
        try {
          await c.collect(ctx, mine);
          out.absorb(mine);
          ok = true;
        } catch (err) {
          const why = describe(err);
          failures.set(why, [...(failures.get(why) ?? []), c.name]);
        }
      }
      if (!ok && c.down) {
        const d = new Exposition(deflate);
        c.down(d);
        out.absorb(d);
      }
      return { name: c.name, ok, seconds: Math.round((performance.now() - t0) * 1e6) / 1e9 };
    }),
  );
  // In registry order, whatever order the collectors finished in.
  for (const r of results) {
    const label = renderLabels(['collector'], [r.name]);
    out.sample(F.collectorDuration, label, r.seconds);
    out.sample(F.collectorSuccess, label, r.ok ? 1 : 0);
  }

  for (const [why, names] of failures) {
    log.warn(
      { collectors: names.sort().join(','), err: why, address: client.where },
      'scrape: collectors failed',
    );
  }
  return { up, exposition: out };
}

/** The few `version` values, one string each (not one per connection). */
const VERSIONS = new Map<string, string>();

function summarise(name: string, c: ViciSection): ConnSummary {
  let version = str(c.version) ?? '';
  const known = VERSIONS.get(version);
  if (known !== undefined) version = known;
  else if (VERSIONS.size < 16) VERSIONS.set(version, version);
  return {
    name,
    version,
    localAddrs: strList(c.local_addrs).join(','),
    remoteAddrs: strList(c.remote_addrs).join(','),
    children: subSections(c.children).map(([child]) => child),
  };
}

/** One line about an error: its message, and its code where it has one; never a stack or a body. */
export function describe(err: unknown): string {
  if (err instanceof ViciTimeoutError) return err.message;
  if (err instanceof Error)
    return 'code' in err && typeof err.code === 'string' ? `${err.message} [${err.code}]` : err.message;
  return String(err);
}
