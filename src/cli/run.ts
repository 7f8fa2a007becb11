// What the bin does once it knows the Node.js will do: serve metrics, write one scrape or run one
// VICI command, and turn errors into one line on stderr. Shared by src/cli/main.ts (node dist/...)
// and src/cli/sea.ts (the single executable), so both behave alike.
import { COLLECTORS } from '../collectors/registry.js';
import { runExporter } from './exporter.js';
import { runQuery } from './query.js';
import { runScrapeOnce } from './scrape.js';

function errorLine(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

async function main(argv: string[], notes: readonly string[]): Promise<number> {
  if (argv[0] === 'query') return runQuery(argv.slice(1));
  if (argv[0] === 'scrape') return runScrapeOnce(argv.slice(1), COLLECTORS);
  return runExporter(argv, notes);
}

/**
 * Runs the bin with its arguments (without node's and the script's); the only place that exits.
 * `notes`: warnings about the runtime, logged when the server starts.
 */
export function start(argv: string[], notes: readonly string[] = []): void {
  // A bug of ours must not take the exporter down, nor go unnoticed: log it, keep serving.
  process.on('unhandledRejection', (reason) => {
    process.stderr.write(`strongswan_exporter: internal error (unhandled rejection): ${errorLine(reason)}\n`);
  });
  main(argv, notes).then(
    (code) => {
      if (code !== 0 || process.exitCode === undefined) process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`strongswan_exporter: ${errorLine(err)}\n`);
      process.exit(typeof err === 'object' && err !== null && 'exitCode' in err ? Number(err.exitCode) : 1);
    },
  );
}
