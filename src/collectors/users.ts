// Collector `users` (off by default): per-user series for road-warrior concentrators, keyed by
// connection and the peer's identity (its EAP or XAuth identity where it has one, else its IKE
// identity), so that they survive rekeys and reconnects: up, IKE SAs, connect time, virtual IPs,
// and traffic that never goes backwards. The traffic is kept as the events collector keeps it per
// child config (the same subscription rules, state and state file), totalled by user instead.
// Bounded: at most --collector.users.max-users users are tracked (the others are counted as
// dropped), and a user not seen for --collector.users.forget-after is forgotten.

import crypto from 'node:crypto';
import net from 'node:net';
import type { Exposition, LabelSet } from '../metrics/exposition.js';
import { F } from '../metrics/families.js';
import { isSection, str, strList, subSections, type ViciSection } from '../vici/index.js';
import { type Collector, DEFAULT_OPTIONS, type ScrapeContext, type TargetEnv } from './collector.js';
import { type EventSnapshot, EventState, EventsCollector } from './events.js';

const USER = ['conn', 'user'];
const USER_VIP = ['conn', 'user', 'vip', 'pool'];

/** An IP address as a number, with its family; undefined for anything else. */
export function ipNumber(ip: string): { v6: boolean; n: bigint } | undefined {
  const kind = net.isIP(ip);
  if (kind === 4) return { v6: false, n: ip.split('.').reduce((a, o) => (a << 8n) | BigInt(o), 0n) };
  if (kind !== 6 || ip.includes('.')) return undefined;
  const [head = '', tail] = ip.split('::');
  const groups = (s: string) => (s === '' ? [] : s.split(':'));
  const h = groups(head);
  const t = tail === undefined ? [] : groups(tail);
  const all = [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  return { v6: true, n: all.reduce((a, g) => (a << 16n) | BigInt(`0x${g}`), 0n) };
}

/** A pool loaded over VICI: its name and range (get-pools: base, size). */
interface Pool {
  name: string;
  v6: boolean;
  first: bigint;
  size: bigint;
}

/** The pools of a get-pools reply that have a base address and a size. */
export function poolsOf(reply: ViciSection): Pool[] {
  const pools: Pool[] = [];
  for (const name in reply) {
    const p = reply[name];
    if (!isSection(p)) continue;
    const base = ipNumber(str(p.base) ?? '');
    const size = str(p.size);
    if (base === undefined || size === undefined || !/^\d+$/.test(size)) continue;
    pools.push({ name, v6: base.v6, first: base.n, size: BigInt(size) });
  }
  return pools;
}

/**
 * The name of the pool whose range holds `vip`; '' for none. charon hands out base + 1 ... base +
 * size when the base is a subnet's network id, else base ... base + size - 1 (mem_pool.c), and
 * get-pools does not say which: an address inside both readings wins, then one at either end.
 */
export function poolOf(pools: readonly Pool[], vip: string): string {
  const a = ipNumber(vip);
  if (a === undefined) return '';
  let edge = '';
  for (const p of pools) {
    if (p.v6 !== a.v6 || a.n < p.first || a.n > p.first + p.size) continue;
    if (a.n > p.first && a.n < p.first + p.size) return p.name;
    edge ||= p.name;
  }
  return edge;
}

/** The identity a road warrior is known by: its EAP or XAuth identity, else its IKE identity. */
export function userOf(ike: ViciSection): string {
  return str(ike['remote-eap-id']) ?? str(ike['remote-xauth-id']) ?? str(ike['remote-id']) ?? '';
}

class UsersCollector extends EventsCollector {
  override readonly name = 'users';
  override readonly help = users.help;
  override readonly defaultEnabled = false;
  private readonly max: number;
  private readonly forgetAfterMs: number;
  private readonly hide: boolean;
  /** Identities as labelled (pseudonyms with --privacy.hide-remote-identities), by identity. */
  private readonly pseudonyms = new Map<string, string>();
  /** Users refused by the cap (each counted once while it stays refused; at most `max` remembered). */
  private readonly refused = new Set<string>();
  private dropped = 0;
  /**
   * This scrape's view of each user, by its totals' row: established IKE SAs, when the oldest was
   * established, its virtual IPs (columns, not an object per user: 10,000 users each scrape).
   */
  private ikeSas = new Int32Array(64);
  private since = new Float64Array(64);
  private vips: (string[] | undefined)[] = [];
  /** The scrape each row's view belongs to. */
  private viewIn = new Int32Array(64);
  private scrapes = 0;
  private scrapeNow = 0;
  /** This scrape's pools (get-pools), and the reply they are read from once the SAs are listed. */
  private pools: Pool[] = [];
  private poolsReply: Promise<Pool[]> = Promise.resolve([]);

  constructor(env: TargetEnv) {
    // Traffic only: the IKE SA events and alerts are the events collector's.
    super(env, env.stateFile?.replace(/\.events\.json$/, '.users.json'), ['child-updown', 'child-rekey']);
    const o = env.options ?? DEFAULT_OPTIONS;
    this.max = o.maxUsers;
    this.forgetAfterMs = o.usersForgetAfterMs;
    this.hide = o.hideRemoteIdentities;
  }

  protected override newState(): EventState {
    return new EventState({ group: (conn, ike) => this.track(conn, ike) });
  }

  protected override restoreState(snap: EventSnapshot): EventState {
    return EventState.restore(snap, { group: (conn, ike) => this.track(conn, ike) });
  }

  /** The user a CHILD SA of `ike` is totalled by; undefined when the cap leaves it out. */
  private track(conn: string, ike: ViciSection): string | undefined {
    const user = this.label(userOf(ike));
    if (this.state.groups < this.max || this.state.hasGroup(conn, user)) return user;
    const key = `${conn}\u0000${user}`;
    if (!this.refused.has(key)) {
      this.dropped++;
      if (this.refused.size < this.max) this.refused.add(key);
    }
    return undefined;
  }

  private label(identity: string): string {
    if (!this.hide) return identity;
    let p = this.pseudonyms.get(identity);
    if (p === undefined) {
      // Stable across restarts and targets, and not the identity itself (a pseudonym, not anonymity).
      p = `sha256:${crypto.createHash('sha256').update(identity).digest('hex').slice(0, 16)}`;
      if (this.pseudonyms.size < this.max) this.pseudonyms.set(identity, p);
    }
    return p;
  }

  protected override listed(st: EventState, conn: string, ike: ViciSection): void {
    const state = str(ike.state);
    if (state === 'CONNECTING' || state === 'CREATED') return;
    const user = this.track(conn, ike);
    if (user === undefined) return;
    const t = st.childTotals(conn, user);
    if (t >= this.viewIn.length) this.grow(t + 1);
    if (this.viewIn[t] !== this.scrapes) {
      this.viewIn[t] = this.scrapes;
      this.ikeSas[t] = 0;
      this.since[t] = Number.POSITIVE_INFINITY;
      this.vips[t] = undefined;
    }
    this.ikeSas[t] = (this.ikeSas[t] as number) + 1;
    const established = Number(str(ike.established));
    if (Number.isFinite(established))
      this.since[t] = Math.min(this.since[t] as number, this.scrapeNow - established);
    for (const vip of strList(ike['remote-vips'])) {
      const have = this.vips[t];
      if (have === undefined) this.vips[t] = [vip];
      else if (!have.includes(vip)) have.push(vip);
    }
    // (no IKE SA rows: they serve the IKE SA events, which this collector does not count)
    for (const [, child] of subSections(ike['child-sas'])) st.onListed(conn, user, child);
  }

  protected override async configured(): Promise<void> {
    this.pools = await this.poolsReply;
  }

  private grow(n: number): void {
    const size = Math.max(n, Math.ceil(1.25 * this.viewIn.length));
    const ints = (a: Int32Array) => {
      const b = new Int32Array(size);
      b.set(a);
      return b;
    };
    this.ikeSas = ints(this.ikeSas);
    this.viewIn = ints(this.viewIn);
    const since = new Float64Array(size);
    since.set(this.since);
    this.since = since;
  }

  override async collect(ctx: ScrapeContext, out: Exposition): Promise<void> {
    this.scrapes++;
    this.scrapeNow = ctx.now;
    // The pools' ranges name the pool of each virtual IP (none: pool labels stay empty). Asked now and
    // read after the listing: waiting for them first would miss the scrape's shared list-sas.
    this.pools = [];
    this.poolsReply = ctx.up ? ctx.command('get-pools').then(poolsOf, () => []) : Promise.resolve([]);
    await super.collect(ctx, out);
  }

  protected override write(out: Exposition): void {
    this.forget();
    this.state.eachTotal((t, conn, user, reported, at) => {
      const l: LabelSet = out.labels(USER, [conn, user]);
      const up = t < this.viewIn.length && this.viewIn[t] === this.scrapes;
      out.write(F.userUp, up ? 1 : 0, l);
      out.write(F.userIkeSas, up ? this.ikeSas[t] : 0, l);
      const since = this.since[t] as number;
      if (up && Number.isFinite(since)) out.write(F.userConnected, since, l);
      // (a label set per user and VIP: a VIP is seldom another user's, so not worth interning)
      if (up)
        for (const vip of this.vips[t] ?? [])
          out.write(F.userVirtualIp, 1, out.labels(USER_VIP, [conn, user, vip, poolOf(this.pools, vip)]));
      out.write(F.userBytes, reported[at], l, 'in');
      out.write(F.userBytes, reported[at + 1], l, 'out');
      out.write(F.userPackets, reported[at + 2], l, 'in');
      out.write(F.userPackets, reported[at + 3], l, 'out');
    });
    out.write(F.usersTracked, this.state.groups);
    out.write(F.usersDropped, this.dropped);
  }

  /** Forget users not seen for forgetAfterMs (their totals go, and room for others is made). */
  private forget(): void {
    // room again: refused users may come in (and count as dropped again if refused again)
    if (this.state.forgetTotals(Date.now() - this.forgetAfterMs) > 0 && this.state.groups < this.max)
      this.refused.clear();
  }
}

export const users: Collector = {
  name: 'users',
  help: 'Per-user series for road-warrior concentrators (conn, EAP/XAuth or IKE identity): up, IKE SAs, connect time, virtual IPs, traffic that survives rekeys and reconnects. Bounded by --collector.users.max-users and --collector.users.forget-after.',
  defaultEnabled: false,
  live: false,
  async collect() {
    throw new Error('users: collector used without a target');
  },
  attach(env) {
    return new UsersCollector(env);
  },
};
