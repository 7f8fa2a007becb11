// Collector `conncounters` (off by default): the counters plugin's per-connection sets, under their own
// families (strongswan_conn_ike_messages_total{conn,...} and so on), so that no family is written by two
// collectors and the global families of `counters` keep their plain meaning. Per-connection values do
// not add up to the global ones: charon counts a message for a connection only once its IKE SA has a
// config (a responder's IKE_SA_INIT never does).
//
// How it asks:
// 1. `get-counters all=yes`, one reply with every connection that has counters. charon drops any
//    reply over 512 KiB without a word, and each set is about 430 bytes, so from about 1 200
//    connections on the reply never comes: the call can only time out, and a timeout costs the VICI
//    connection it ran on (there are no request ids to match a late reply). So it runs on a connection
//    of its own, with half of what is left of the scrape's time.
// 2. If that times out: one `get-counters name=X` per configured connection (list-conns), on up to
//    PER_NAME_CONNECTIONS connections of its own at once, and this daemon is remembered as too big for
//    all=yes for OVERFLOW_RETRY_MS, so the next scrapes go straight to per-name queries. Connections
//    charon still has counters for but that are no longer configured are only in the all=yes reply.
// A configured connection without counters yet (charon answers "no counters found" for it) is written
// as zeros, so that its series exist before the first increment.

import type { Exposition } from '../metrics/exposition.js';
import { F } from '../metrics/families.js';
import { str, ViciClient, ViciCommandError, type ViciSection, ViciTimeoutError } from '../vici/index.js';
import type { Collector, ScrapeContext } from './collector.js';
import { type CounterFamilies, counterSets, writeCounterSet } from './counters.js';

export const OVERFLOW_RETRY_MS = 10 * 60_000;
/** Connections the per-name fallback uses at most (one per 50 names): charon answers each in parallel. */
export const PER_NAME_CONNECTIONS = 4;

const CONN = ['conn'];

const PER_CONN: CounterFamilies = {
  messages: F.connIkeMessages,
  rekeys: F.connIkeRekeys,
  childRekeys: F.connChildRekeys,
  invalid: F.connIkeInvalidMessages,
  invalidSpi: F.connIkeInvalidSpiMessages,
};

/** What one target's collector remembers between scrapes: when all=yes last timed out. */
interface Memo {
  overflowedAt?: number;
}

async function askAll(own: ViciClient, ctx: ScrapeContext): Promise<Map<string, ViciSection> | null> {
  try {
    const reply = await own.command(
      'get-counters',
      { all: 'yes' },
      { timeoutMs: Math.max(1, Math.floor(ctx.timeLeft() / 2)), decode: { text: true } },
    );
    return new Map(counterSets(reply).filter(([name]) => name !== ''));
  } catch (err) {
    if (err instanceof ViciTimeoutError) return null;
    throw err;
  }
}

/** One get-counters per name, on `clients.length` connections at once (charon serves each in parallel). */
async function askEach(
  clients: readonly ViciClient[],
  ctx: ScrapeContext,
  names: readonly string[],
): Promise<Map<string, ViciSection>> {
  const sets = new Map<string, ViciSection>();
  let next = 0;
  let failed = false;
  const worker = async (client: ViciClient) => {
    while (!failed && next < names.length) {
      const name = names[next++] as string;
      try {
        const reply = await client.command(
          'get-counters',
          { name },
          { timeoutMs: ctx.timeLeft(), decode: { text: true }, checkSuccess: false },
        );
        if (str(reply.success) === 'no') {
          const errmsg = str(reply.errmsg) ?? '';
          if (/no counters found/i.test(errmsg)) continue; // no counted event for it yet
          throw new ViciCommandError('get-counters', errmsg);
        }
        const set = counterSets(reply).find(([n]) => n === name);
        if (set !== undefined) sets.set(name, set[1]);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  await Promise.all(clients.map(worker));
  return sets;
}

async function collectConnCounters(ctx: ScrapeContext, out: Exposition, memo: Memo): Promise<void> {
  const names: string[] = [];
  const configuredP = ctx.conns((c) => {
    names.push(c.name);
  });
  // Awaited below; until then a rejection must not count as unhandled.
  void configuredP.catch(() => {});
  const where = ctx.client.where;
  const clients = [new ViciClient({ address: where, timeoutMs: ctx.timeLeft() })];
  try {
    let sets: Map<string, ViciSection> | null = null;
    const last = memo.overflowedAt;
    if (last === undefined || Date.now() - last >= OVERFLOW_RETRY_MS) {
      sets = await askAll(clients[0] as ViciClient, ctx);
      memo.overflowedAt = sets === null ? Date.now() : undefined;
    }
    await configuredP;
    const configured = [...new Set(names)];
    if (sets === null) {
      const n = Math.min(PER_NAME_CONNECTIONS, Math.ceil(configured.length / 50));
      while (clients.length < n) clients.push(new ViciClient({ address: where, timeoutMs: ctx.timeLeft() }));
      sets = await askEach(clients, ctx, configured);
    }
    const label = (name: string) => out.labels(CONN, [name]);
    for (const name of configured) writeCounterSet(out, PER_CONN, label(name), sets.get(name) ?? null);
    const known = new Set(configured);
    for (const [name, set] of sets) if (!known.has(name)) writeCounterSet(out, PER_CONN, label(name), set);
  } finally {
    for (const c of clients) c.close();
  }
}

export const conncounters: Collector = {
  name: 'conncounters',
  help: 'Per-connection IKE counters of the counters plugin (get-counters all=yes, per name when that reply is too big).',
  defaultEnabled: false,
  // Unattached (a one-off scrape): nothing remembered.
  collect: (ctx, out) => collectConnCounters(ctx, out, {}),
  attach() {
    // Per target: whether its daemon's all=yes reply overflowed lately.
    const memo: Memo = {};
    return { ...conncounters, collect: (ctx, out) => collectConnCounters(ctx, out, memo), detach() {} };
  },
};
