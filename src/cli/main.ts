#!/usr/bin/env -S MALLOC_MMAP_THRESHOLD_=131072 node --max-semi-space-size=16 --expose-gc

// The bin: `strongswan_exporter [flags]` serves metrics; `strongswan_exporter scrape ...` writes one
// scrape; `strongswan_exporter query ...` runs one VICI command. With src/cli/run.ts, the only place
// that calls process.exit; errors become one line on stderr.
// 16 MiB semi-spaces (Node's documented default on 64-bit systems with a 2 GiB heap limit, pinned
// here as the default shrinks with the limit): a scrape allocates ~33 KB per IKE SA that dies
// young, and each scavenge costs about the same however little survives. 4 MiB ones (taken once for
// a lower peak, when scrapes held their whole text) made 434 scavenges a scrape at 50,000 tunnels,
// 16 MiB 110: GC pauses 259 -> 103 ms a scrape, CPU per plain scrape 3.6-3.8 -> 3.0-3.3 s (two
// interleaved bench pairs); peak RSS +20-25 MiB (10,000 tunnels 139 -> 163-166, 50,000 334 -> 342-351).
// --expose-gc lets a big scrape be followed by a full collection once it is written out
// (server/target.ts, GC_AFTER_SAMPLES): peak RSS at 10,000 tunnels 327 to 245-249 MB, same speed.
// MALLOC_MMAP_THRESHOLD_ (glibc; ignored elsewhere) keeps glibc from raising its mmap threshold
// after the first 256 KiB chunk of text is freed: chunks are then mapped on their own and their
// memory goes back to the system when they are freed, where otherwise they stay in the heap, in
// pieces that later allocations seldom fit. At 10,000 tunnels, when plain scrapes still held their
// whole text: plain scrapes 193 -> 186 MiB.

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
