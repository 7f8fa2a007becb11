// Collector `stats`: the daemon's own statistics (`stats`): start time, IKE SA totals, worker threads,
// job queues, scheduled jobs, loaded plugins and, where the daemon has mallinfo, its heap.

import type { Exposition } from '../metrics/exposition.js';
import { F } from '../metrics/families.js';
import { isSection, str, strList, type ViciEntry, type ViciSection } from '../vici/index.js';
import type { Collector, ScrapeContext } from './collector.js';

export const PRIORITIES = ['critical', 'high', 'medium', 'low'] as const;
const MALLINFO = ['sbrk', 'mmap', 'used', 'free'] as const;
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const SINCE = /^([A-Z][a-z]{2}) +(\d{1,2}) (\d{1,2}):(\d{2}):(\d{2}) (\d{4})$/;

/**
 * `uptime.since` as seconds since the epoch. charon prints it with strftime("%b %d %H:%M:%S %Y") in
 * the local time of the daemon's host and without a zone (e.g. `Nov 28 04:24:35 2026`), so it is read
 * here as local time of the exporter's host (the `TZ` of this process). Over a unix socket both run on
 * the same host, so that is exact. For a TCP target in another zone, run the exporter with that zone's
 * `TZ` or the value is off by the difference. In the hour repeated at the end of daylight saving time
 * the reading is ambiguous; JavaScript takes the earlier instant. undefined when it does not parse.
 */
export function parseSince(since: string | undefined): number | undefined {
  const m = since === undefined ? null : SINCE.exec(since.trim());
  if (m === null) return undefined;
  const month = MONTHS.indexOf(m[1] as string);
  if (month < 0) return undefined;
  const d = new Date(Number(m[6]), month, Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5])).getTime();
  return Number.isFinite(d) ? Math.floor(d / 1000) : undefined;
}

function section(e: ViciEntry | undefined): ViciSection | undefined {
  return isSection(e) ? e : undefined;
}

/**
 * How far apart two readings of the daemon's start may be for one run: charon works it out anew at
 * every call from its uptime, and the result moves by a second now and then.
 */
export const SAME_RUN_S = 2;

/** The start time to report: the one reported before while the reading stays within SAME_RUN_S of it. */
export function stableStart(reported: number | undefined, read: number): number {
  return reported !== undefined && Math.abs(read - reported) <= SAME_RUN_S ? reported : read;
}

async function collectStats(
  ctx: ScrapeContext,
  out: Exposition,
  start: { reported?: number },
): Promise<void> {
  const s = await ctx.command('stats');
  const read = parseSince(str(section(s.uptime)?.since));
  if (read !== undefined) {
    start.reported = stableStart(start.reported, read);
    out.write(F.daemonStartTime, start.reported);
  }

  const ikesas = section(s.ikesas);
  out.write(F.daemonIkeSas, str(ikesas?.total));
  out.write(F.daemonHalfOpenIkeSas, str(ikesas?.['half-open']));

  const workers = section(s.workers);
  out.write(F.daemonWorkerPoolThreads, str(workers?.total));
  out.write(F.daemonWorkerThreads, str(workers?.idle), null, 'idle');
  const active = section(workers?.active);
  const queues = section(s.queues);
  for (const p of PRIORITIES) {
    out.write(F.daemonWorkerThreads, str(active?.[p]), null, p);
    out.write(F.daemonJobQueueLength, str(queues?.[p]), null, p);
  }
  out.write(F.daemonScheduledJobs, str(s.scheduled));

  for (const plugin of new Set(strList(s.plugins))) {
    out.write(F.daemonPluginInfo, 1, null, plugin);
  }
  const mallinfo = section(s.mallinfo);
  if (mallinfo !== undefined) {
    for (const k of MALLINFO) out.write(F.daemonMallocBytes, str(mallinfo[k]), null, k);
  }
}

export const stats: Collector = {
  name: 'stats',
  help: 'Daemon statistics (stats): start time, IKE SAs, worker threads, job queues, plugins, heap.',
  defaultEnabled: true,
  // Unattached (a one-off scrape): the start time as read.
  collect: (ctx, out) => collectStats(ctx, out, {}),
  attach() {
    // Per target: the start time reported last, so that it stays put for one daemon run.
    const start: { reported?: number } = {};
    return { ...stats, collect: (ctx, out) => collectStats(ctx, out, start), detach() {} };
  },
};
