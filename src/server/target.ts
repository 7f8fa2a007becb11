// A scrape target: one daemon address with its own VICI client and collectors. Concurrent scrapes of
// one target share one in-flight query, and the responses made from it (see server.ts).

import {
  type Collector,
  type CollectorOptions,
  DEFAULT_OPTIONS,
  type DetachOptions,
  type Logger,
  runScrape,
} from '../collectors/collector.js';
import type { Exposition } from '../metrics/exposition.js';
import { ChunkPool } from '../metrics/pool.js';

import { ViciClient } from '../vici/index.js';
import type { SharedText } from './shared-text.js';

export interface TargetOptions {
  name: string;
  address: string;
  timeoutMs: number;
  collectors: readonly Collector[];
  log: Logger;
  options?: CollectorOptions;
  /** The events collector's state file for this target (none: its counters start from 0). */
  stateFile?: string;
  /**
   * Called once a big scrape (see GC_AFTER_SAMPLES) has been written out to every client: by
   * default a full garbage collection when node runs with --expose-gc (the bin and the Docker image
   * start it so), else nothing.
   */
  collectGarbage?: () => void;
  /**
   * Check the reuse of the target's chunks: one given back twice throws, and one given back is
   * zeroed at once, so that text made from it after that fails (tests). Default: the environment
   * variable STRONGSWAN_EXPORTER_CHECK_BUFFERS=1.
   */
  checkBuffers?: boolean;
}

/**
 * A scrape of at least this many samples is followed by a full garbage collection once written out:
 * what it left in the old generation (its decoded replies outlive a few young collections) is
 * freed then, not at the height of the next scrape (bench/README.md, "Runtime settings").
 */
export const GC_AFTER_SAMPLES = 100_000;

/**
 * `gc` exists only when node runs with --expose-gc or src/cli/sea-runtime.ts exposed it; looked up
 * when called, so that it does not matter which module a bundle evaluates first.
 */
const fullGc = (): void => (globalThis as { gc?: () => void }).gc?.();

export class ScrapeOutcome {
  /** Responses made from this outcome, by kind (format, compression): shared by every joined scrape. */
  readonly responses = new Map<string, Promise<Buffer[] | SharedText>>();
  private holds = 0;
  private held = false;
  private open = true;
  constructor(
    readonly up: boolean,
    readonly exposition: Exposition,
    private readonly collectGarbage: () => void = () => {},
  ) {}

  /**
   * Use this outcome until the returned function is called (a response written out completely). An
   * outcome that was held is recycled (its chunks reused by the next scrape) once the last hold is
   * released after the scrape's joiners have all taken theirs; one never held is left to the garbage
   * collector. A hold that is never released (an aborted response) only means no recycling.
   */
  hold(): () => void {
    this.holds++;
    this.held = true;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.holds--;
      this.maybeRecycle();
    };
  }

  /** Every scrape that joined this outcome has taken its hold: none come later. */
  closeJoins(): void {
    this.open = false;
    this.maybeRecycle();
  }

  private maybeRecycle(): void {
    if (this.open || !this.held || this.holds > 0) return;
    this.responses.clear();
    const big = this.exposition.samples >= GC_AFTER_SAMPLES;
    this.exposition.recycle();
    // After the other 'finish' listeners of the last response: nothing waits for this.
    if (big) setImmediate(this.collectGarbage);
  }

  /** The response made by `make` for `key`, made once. */
  response<T extends Buffer[] | SharedText>(key: string, make: () => Promise<T>): Promise<T> {
    let r = this.responses.get(key) as Promise<T> | undefined;
    if (r === undefined) {
      r = make();
      this.responses.set(key, r);
    }
    return r;
  }
}

export class Target {
  readonly client: ViciClient;
  /** The collectors as attached to this target (stateful ones get an instance of their own). */
  readonly collectors: readonly (Collector & { detach?(opts?: DetachOptions): void | Promise<void> })[];
  private inflight: Promise<ScrapeOutcome> | null = null;
  /** Scrapes that ran a query, and scrapes that joined one already under way. */
  readonly stats = { queries: 0, shared: 0 };

  private readonly collectGarbage: () => void;
  /** The chunks and label dictionary its scrapes are written into, reused scrape after scrape. */
  readonly pool: ChunkPool;

  constructor(readonly opts: TargetOptions) {
    this.collectGarbage = opts.collectGarbage ?? fullGc;
    this.pool = new ChunkPool(opts.checkBuffers ?? process.env.STRONGSWAN_EXPORTER_CHECK_BUFFERS === '1');
    this.client = new ViciClient({ address: opts.address, timeoutMs: opts.timeoutMs });
    const env = {
      address: opts.address,
      timeoutMs: opts.timeoutMs,
      log: opts.log,
      stateFile: opts.stateFile,
      options: opts.options,
    };
    this.collectors = opts.collectors.map((c) => (c.attach ? c.attach(env) : c));
  }

  /** Scrape, or join the scrape already under way. `timeoutMs` bounds a new query (default: the target's). */
  scrape(timeoutMs = this.opts.timeoutMs): Promise<ScrapeOutcome> {
    if (this.inflight !== null) {
      this.stats.shared++;
      return this.inflight;
    }
    this.stats.queries++;
    const log = this.opts.log;
    const budget = Math.min(timeoutMs, this.opts.timeoutMs);
    this.inflight = runScrape(
      this.client,
      this.collectors,
      budget,
      log,
      Date.now,
      this.opts.options ?? DEFAULT_OPTIONS,
      this.pool,
    )
      .then((r) => {
        const outcome = new ScrapeOutcome(r.up, r.exposition, this.collectGarbage);
        // Joined scrapes resume in this turn's microtasks and take their holds there.
        setImmediate(() => outcome.closeJoins());
        return outcome;
      })
      .finally(() => {
        this.inflight = null;
      });
    return this.inflight;
  }

  /**
   * Close its connections; resolves once stateful collectors have put their state away.
   * `listedJustNow`: a scrape has just listed the SAs (a one-shot run), so their state is put away
   * without listing them again.
   */
  async close(opts: DetachOptions = {}): Promise<void> {
    this.client.close();
    await Promise.all(this.collectors.map((c) => c.detach?.(opts)));
  }
}
