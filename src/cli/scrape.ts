// `strongswan_exporter scrape [--output FILE] [flags]`: one scrape, written once, for hosts that cannot
// run another daemon and for node_exporter's textfile collector. Exit 0 when the daemon answered,
// 1 when not (the exposition, with strongswan_up 0, is written either way).

import fs from 'node:fs';
import path from 'node:path';
import type { Collector } from '../collectors/collector.js';
import { createLogger } from '../log.js';
import type { PieceSource } from '../server/shared-text.js';
import { Target } from '../server/target.js';
import { optionSpecs, parseFlags, parseStrict, UsageError } from './flags.js';

export const SCRAPE_USAGE = `usage: strongswan_exporter scrape [--output FILE] [flags]

Runs the enabled collectors once and writes one exposition (Prometheus text format): to standard
output, or to FILE, atomically (a temporary file in FILE's directory, renamed over FILE), readable by
all, as node_exporter's textfile collector wants (FILE ending in .prom). Exit status 0 when charon
answered, 1 when not (the file then says strongswan_up 0), 2 for bad flags.

Flags:
  --output FILE                          write to FILE instead of standard output
  --vici.address URI                     VICI socket (as for the server)
  --vici.timeout DURATION                bound for the whole scrape (default 5s)
  --[no-]collector.NAME                  as for the server
  --collector.events.state-directory DIR keep the events collector's counters in DIR between runs:
                                         each run continues them, and counts the ups, downs and
                                         rekeys since the last run from the listings (without it,
                                         the events collector is off: one run sees no events)
  --privacy.hide-remote-identities       as for the server
  --log.level LEVEL, --log.format FORMAT as for the server (logs go to standard error)
`;

/** The server's flags that have a meaning for one scrape (besides --[no-]collector.NAME). */
const SCRAPE_FLAGS = [
  'vici.address',
  'vici.timeout',
  'log.level',
  'log.format',
  'privacy.hide-remote-identities',
];

function scrapeFlag(name: string): boolean {
  return SCRAPE_FLAGS.includes(name) || name.startsWith('collector.') || name.startsWith('no-collector.');
}

export async function runScrapeOnce(
  argv: string[],
  registry: readonly Collector[],
  out: NodeJS.WritableStream = process.stdout,
): Promise<number> {
  // the server's flags that have a meaning for one scrape, and its own
  const server = optionSpecs(registry);
  const options = Object.fromEntries(Object.entries(server).filter(([name]) => scrapeFlag(name)));
  options.output = { type: 'string' };
  options.help = { type: 'boolean', short: 'h' };
  const parsed = parseStrict(argv, options, '(see scrape --help)');
  if (parsed.values.help === true) {
    out.write(SCRAPE_USAGE);
    return 0;
  }
  const output = parsed.values.output;
  if (output !== undefined && (typeof output !== 'string' || output === '' || output.endsWith('/')))
    throw new UsageError('scrape: --output needs a file name');
  // The rest are the server's flags, checked as the server checks them.
  const rest: string[] = [];
  for (const t of parsed.tokens ?? []) {
    if (t.kind !== 'option' || t.name === 'output') continue;
    if (
      !SCRAPE_FLAGS.includes(t.name) &&
      !t.name.startsWith('collector.') &&
      !t.name.startsWith('no-collector.')
    )
      continue;
    rest.push(t.value === undefined ? `--${t.name}` : `--${t.name}=${t.value}`);
  }
  const cfg = parseFlags(rest, registry);
  // A subscription that lives for one scrape sees no event: the events collector needs its state
  // directory (each run then counts from the listings what happened since the last), unless asked for.
  const eventsAsked = (parsed.tokens ?? []).some((t) => t.kind === 'option' && t.name === 'collector.events');
  const collectors = cfg.collectors.filter(
    (c) => c.name !== 'events' || cfg.eventsStateDirectory !== undefined || eventsAsked,
  );
  if (output !== undefined) {
    const dir = path.dirname(path.resolve(output));
    try {
      fs.accessSync(dir, fs.constants.W_OK);
    } catch (err) {
      throw new UsageError(
        `scrape: --output "${output}": ${(err as NodeJS.ErrnoException).code ?? 'not writable'}`,
      );
    }
  }

  const log = createLogger(cfg.logLevel, cfg.logFormat);
  const target = new Target({
    name: 'default',
    address: cfg.viciAddress,
    timeoutMs: cfg.viciTimeoutMs,
    collectors,
    log,
    options: cfg.options,
    stateFile:
      cfg.eventsStateDirectory === undefined
        ? undefined
        : path.join(cfg.eventsStateDirectory, 'metrics.events.json'),
    collectGarbage: () => {},
  });
  let closed = false;
  try {
    const outcome = await target.scrape();
    // This scrape's listing is the last one: the state goes away as it left it, before the output
    // is written (another listing at close would only repeat it).
    await target.close({ listedJustNow: true });
    closed = true;
    // Piece by piece, as a response is: the text of 10,000 tunnels is ~100 MB.
    const text = outcome.exposition.reader('prometheus');
    if (output === undefined) await writeOut(out, text);
    else await writeFileAtomically(output, text);
    return outcome.up ? 0 : 1;
  } finally {
    if (!closed) await target.close();
  }
}

/**
 * Write to a stream, a piece at a time, each given back to the reader (and its pool) once written for
 * the next to reuse; a reader that went away (EPIPE) ends the run quietly, as for `query`.
 */
async function writeOut(out: NodeJS.WritableStream, text: PieceSource): Promise<void> {
  let failed: NodeJS.ErrnoException | undefined;
  let wake: (() => void) | undefined;
  // The listener stays: a write queued before the reader went away may fail after this has settled.
  out.on('error', (err: NodeJS.ErrnoException) => {
    failed ??= err;
    wake?.();
  });
  for (let p = text.next(); p !== undefined && failed === undefined; p = text.next()) {
    const piece = p;
    await new Promise<void>((resolve) => {
      wake = resolve;
      out.write(piece, () => {
        text.release(piece);
        resolve();
      });
    });
  }
  wake = undefined;
  if (failed !== undefined && failed.code !== 'EPIPE')
    throw new Error(`scrape: writing the output failed: ${failed.message}`);
}

/** A temporary file next to `file`, flushed, then renamed over it: a reader sees the old or the new. */
async function writeFileAtomically(file: string, text: PieceSource): Promise<void> {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  try {
    const fh = await fs.promises.open(tmp, 'w', 0o644);
    try {
      for (let p = text.next(); p !== undefined; p = text.next()) {
        await fh.write(p);
        text.release(p);
      }
      // readable by the textfile collector's user, whatever the umask
      await fh.chmod(0o644);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fs.promises.rename(tmp, file);
  } catch (err) {
    await fs.promises.rm(tmp, { force: true });
    throw new Error(`scrape: writing ${file} failed: ${(err as Error).message}`);
  }
}
