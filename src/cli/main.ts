#!/usr/bin/env -S MALLOC_MMAP_THRESHOLD_=131072 node --max-semi-space-size=16 --expose-gc

// The bin: `strongswan_exporter [flags]` serves metrics; `strongswan_exporter scrape ...` writes one
// scrape; `strongswan_exporter query ...` runs one VICI command. With src/cli/run.ts, the only place
// that calls process.exit; errors become one line on stderr.
// The shebang's settings keep a big scrape cheap in time and memory (bench/README.md, "Runtime
// settings", has what each one bought): 16 MiB semi-spaces, because a scrape makes much short-lived
// garbage and each scavenge costs about the same however little survives; --expose-gc, so that a big
// scrape is followed by one full collection once written out (server/target.ts); and glibc's mmap
// threshold fixed, so that freed chunks of text go back to the system.

import { nodeTooOld } from './node-version.js';

// Before the rest is loaded: on an older Node it would fail later, and less clearly.
const tooOld = nodeTooOld(process.versions.node);
if (tooOld !== undefined) {
  process.stderr.write(`strongswan_exporter: ${tooOld}\n`);
  process.exit(1);
}
// The rest (src/cli/run.ts) is shared with the single executable's entry (src/cli/sea.ts).
const { start } = await import('./run.js');
start(process.argv.slice(2));
