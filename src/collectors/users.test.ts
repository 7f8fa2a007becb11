import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { FakeCharon } from '../../test/fake-charon/server.js';
import { type Parsed, select, value } from '../../test/helpers/exposition.js';
import { quietLog, scrapeFake, VERSION_REPLY } from '../../test/helpers/scrape.js';
import type { ViciClient, ViciInput } from '../vici/index.js';
import { type Collector, type CollectorOptions, DEFAULT_OPTIONS } from './collector.js';
import { ipNumber, poolOf, poolsOf, users } from './users.js';

type Attached = Collector & { detach(): void | Promise<void>; client: ViciClient };

/** A CHILD SA `rw` with unique id `id` that passed `bytes` in (twice that out), 84-byte packets. */
function childSa(id: number, bytes: number, state = 'INSTALLED', installedAgo?: number): ViciInput {
  return {
    ...(installedAgo === undefined ? {} : { 'install-time': String(installedAgo) }),
    name: 'rw',
    uniqueid: String(id),
    state,
    'spi-in': `c${id.toString(16).padStart(7, '0')}`,
    'spi-out': `d${id.toString(16).padStart(7, '0')}`,
    'bytes-in': String(bytes),
    'bytes-out': String(2 * bytes),
    'packets-in': String(bytes / 84),
    'packets-out': String((2 * bytes) / 84),
  };
}

/** IKE SA `ike` of road warrior `n` (EAP identity userN@lab, IKE identity its address). */
function ikeSa(n: number, ike: number, state = 'ESTABLISHED'): ViciInput {
  return {
    uniqueid: String(ike),
    state,
    established: '30',
    'initiator-spi': `00000000000000${(ike + 16).toString(16).padStart(2, '0')}`,
    'remote-id': `192.168.252.${10 + n}`,
    'remote-eap-id': `user${n}@lab`,
    'remote-vips': [`10.93.0.${n}`],
  };
}

/**
 * What list-sas sends for road warrior `n`: IKE SA `ike` holding CHILD SA `child` (installed before
 * the exporter started when `old`; else new since).
 */
function rw(n: number, ike: number, child: number, bytes: number, old = false): ViciInput {
  return {
    rw: {
      ...ikeSa(n, ike),
      'child-sas': { [`rw-${child}`]: childSa(child, bytes, 'INSTALLED', old ? 30 : undefined) },
    },
  };
}

const bytes = (p: Parsed, user: string, direction = 'in') =>
  select(p, 'strongswan_user_bytes_total', { conn: 'rw', user, direction })[0]?.value;

describe('users collector', () => {
  let fake: FakeCharon;
  let listed: ViciInput[] = [];
  let col: Attached;
  const attach = (options: Partial<CollectorOptions> = {}) => {
    col = users.attach?.({
      address: fake.address,
      timeoutMs: 2000,
      log: quietLog,
      options: { ...DEFAULT_OPTIONS, ...options },
    }) as Attached;
    return col;
  };
  const subscribed = async () => {
    for (
      let i = 0;
      !(
        col.client.connected &&
        [...fake.conns].some(
          (k) => k.registered.get('child-updown') === 1 && k.registered.get('child-rekey') === 1,
        )
      );
      i++
    ) {
      assert.ok(i < 300, 'subscribed');
      await sleep(10);
    }
  };
  beforeEach(async () => {
    fake = new FakeCharon();
    fake.knownEvents.add('ike-rekey').add('child-rekey');
    await fake.listenUnix();
    listed = [];
    fake
      .on('version', () => ({ response: VERSION_REPLY }))
      .on('list-sas', () => ({
        events: listed.map((message) => ({ name: 'list-sa', message })),
        response: {},
      }))
      .on('list-conns', () => ({ response: {} }))
      .on('get-pools', () => ({
        response: {
          rw_pool: { base: '10.93.0.0', size: '14', online: '3', offline: '0' },
          v6: { base: 'fd00::1:0', size: '256' },
        },
      }));
  });
  afterEach(async () => {
    await col?.detach();
    await fake.close();
  });

  it('keeps each user by identity, with totals that survive a rekey and a reconnect', async () => {
    attach();
    await subscribed();
    listed = [rw(1, 1, 1, 840, true), rw(2, 2, 2, 168, true)];
    let p = (await scrapeFake(fake, [col])).p;
    // where counting starts: what the SAs had before is not this exporter's
    assert.equal(bytes(p, 'user1@lab'), 0);
    assert.equal(value(p, 'strongswan_user_up', { conn: 'rw', user: 'user1@lab' }), 1);
    assert.equal(value(p, 'strongswan_user_ike_sas', { conn: 'rw', user: 'user2@lab' }), 1);
    assert.equal(
      value(p, 'strongswan_user_virtual_ip_info', {
        conn: 'rw',
        user: 'user2@lab',
        vip: '10.93.0.2',
        pool: 'rw_pool',
      }),
      1,
    );
    assert.equal(value(p, 'strongswan_users_tracked'), 2);
    const since = value(p, 'strongswan_user_connected_timestamp_seconds', { conn: 'rw', user: 'user1@lab' });
    assert.ok(Math.abs(since - (Math.floor(Date.now() / 1000) - 30)) <= 2, `connected at ${since}`);

    // user 1 passes 840 more bytes, then its CHILD SA is rekeyed (final counters in the event) and
    // the new one passes 84; user 2 reconnects: its IKE SA goes down (final 336) and a new one comes
    listed = [rw(1, 1, 1, 1680, true), rw(2, 2, 2, 252, true)];
    p = (await scrapeFake(fake, [col])).p;
    assert.equal(bytes(p, 'user1@lab'), 840);
    assert.equal(bytes(p, 'user2@lab'), 84);
    fake.broadcast('child-rekey', {
      rw: { ...ikeSa(1, 1), 'child-sas': { rw: { old: childSa(1, 1764, 'REKEYED'), new: childSa(3, 0) } } },
    });
    fake.broadcast('child-updown', {
      rw: { ...ikeSa(2, 2, 'DELETING'), 'child-sas': { 'rw-2': childSa(2, 336) } },
    });
    fake.broadcast('ike-updown', { rw: ikeSa(2, 2, 'DELETING') });
    await sleep(100);
    listed = [rw(1, 1, 3, 84), rw(2, 4, 5, 84)];
    p = (await scrapeFake(fake, [col])).p;
    assert.equal(
      bytes(p, 'user1@lab'),
      840 + 84 + 84,
      'the rekeyed SA credited with its final counters, the new one added',
    );
    assert.equal(bytes(p, 'user2@lab'), 336 - 168 + 84, 'the old IKE SA credited, the new one added');
    assert.equal(bytes(p, 'user2@lab', 'out'), 2 * (336 - 168 + 84));
    // the old CHILD SA of user 1 lingers in a listing with counters it had already been credited with
    listed = [rw(1, 1, 3, 84), rw(1, 1, 1, 1764, true), rw(2, 4, 5, 84)];
    p = (await scrapeFake(fake, [col])).p;
    assert.equal(bytes(p, 'user1@lab'), 1008, 'nothing counted twice');
    assert.equal(bytes(p, 'user2@lab'), 252);
    // user 2 gone: up 0, its totals stay
    listed = [rw(1, 1, 3, 168)];
    p = (await scrapeFake(fake, [col])).p;
    assert.equal(value(p, 'strongswan_user_up', { conn: 'rw', user: 'user2@lab' }), 0);
    assert.equal(bytes(p, 'user2@lab'), 252, 'never backwards');
    assert.equal(bytes(p, 'user1@lab'), 1092);
    assert.equal(select(p, 'strongswan_user_virtual_ip_info', { user: 'user2@lab' }).length, 0);
  });

  it('tracks at most max-users, counts the others as dropped, and forgets users gone for forget-after', async () => {
    attach({ maxUsers: 2, usersForgetAfterMs: 300 });
    await subscribed();
    listed = [rw(1, 1, 1, 84), rw(2, 2, 2, 84), rw(3, 3, 3, 84)];
    let p = (await scrapeFake(fake, [col])).p;
    assert.equal(value(p, 'strongswan_users_tracked'), 2);
    assert.equal(value(p, 'strongswan_users_dropped_total'), 1);
    assert.equal(select(p, 'strongswan_user_up', { user: 'user3@lab' }).length, 0);
    p = (await scrapeFake(fake, [col])).p;
    assert.equal(value(p, 'strongswan_users_dropped_total'), 1, 'a refused user counts once');
    // users 1 and 2 leave; once forgotten (after their CHILD SAs are), user 3 comes in
    listed = [rw(3, 3, 3, 84)];
    for (let i = 0; ; i++) {
      assert.ok(i < 40, 'forgotten');
      p = (await scrapeFake(fake, [col])).p;
      if (select(p, 'strongswan_user_up', { user: 'user1@lab' }).length === 0) break;
      await sleep(50);
    }
    for (let i = 0; select(p, 'strongswan_user_up', { user: 'user3@lab' }).length === 0; i++) {
      assert.ok(i < 5, 'user 3 tracked once there is room');
      p = (await scrapeFake(fake, [col])).p;
    }
    assert.equal(value(p, 'strongswan_user_up', { conn: 'rw', user: 'user3@lab' }), 1);
    assert.ok(value(p, 'strongswan_users_tracked') <= 2);
  });

  it('keeps its totals in a state file of its own and continues them after a restart', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'users-state-'));
    fake.on('stats', () => ({ response: { uptime: { since: 'Dec  7 02:00:00 2026' } } }));
    const env = (file: string) => ({
      address: fake.address,
      timeoutMs: 2000,
      log: quietLog,
      stateFile: file,
      options: DEFAULT_OPTIONS,
    });
    const events = path.join(dir, 'metrics.events.json');
    try {
      col = users.attach?.(env(events)) as Attached;
      await subscribed();
      listed = [rw(1, 1, 1, 840, true)];
      await scrapeFake(fake, [col]);
      listed = [rw(1, 1, 1, 1680, true)];
      assert.equal(bytes((await scrapeFake(fake, [col])).p, 'user1@lab'), 840);
      await col.detach();
      // next to the events collector's file, not in it
      assert.ok(fs.existsSync(path.join(dir, 'metrics.users.json')));
      assert.ok(!fs.existsSync(events));
      col = users.attach?.(env(events)) as Attached;
      await subscribed();
      listed = [rw(1, 1, 1, 2520, true)];
      const p = (await scrapeFake(fake, [col])).p;
      assert.equal(bytes(p, 'user1@lab'), 1680, 'continued from the file, not from 0');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('labels users by a pseudonym with --privacy.hide-remote-identities', async () => {
    attach({ hideRemoteIdentities: true });
    listed = [rw(1, 1, 1, 84)];
    const { p, text } = await scrapeFake(fake, [col]);
    assert.ok(!text.includes('user1@lab') && !text.includes('192.168.252.11'), 'no identity in the text');
    const ups = select(p, 'strongswan_user_up');
    assert.equal(ups.length, 1);
    assert.match(ups[0]?.labels.user ?? '', /^sha256:[0-9a-f]{16}$/);
  });
});

describe('users: the pool of a virtual IP', () => {
  it('is the pool loaded over VICI whose range (base, size) holds it, IPv4 or IPv6', () => {
    const pools = poolsOf({
      rw_pool: { base: '10.93.0.0', size: '14' },
      big: { base: '10.0.0.0', size: '65536' },
      v6: { base: 'fd00::1:0', size: '256' },
      nobase: { size: '3' },
      badsize: { base: '10.9.9.9', size: 'x' },
    } as unknown as Parameters<typeof poolsOf>[0]);
    assert.deepEqual(
      pools.map((p) => p.name),
      ['rw_pool', 'big', 'v6'],
    );
    assert.equal(poolOf(pools, '10.93.0.1'), 'rw_pool');
    assert.equal(poolOf(pools, '10.93.0.13'), 'rw_pool');
    // a CIDR pool's base is its network id: charon hands out base + 1 ... base + size
    assert.equal(poolOf(pools, '10.93.0.14'), 'rw_pool', 'the last of 10.93.0.0/28');
    assert.equal(poolOf(pools, '10.93.0.15'), '', 'past the range');
    // adjacent ranges (base ... base + size - 1): the address inside one wins over the other's end
    const ranges = poolsOf({
      a: { base: '10.1.0.1', size: '10' },
      b: { base: '10.1.0.11', size: '10' },
    } as unknown as Parameters<typeof poolsOf>[0]);
    assert.equal(poolOf(ranges, '10.1.0.10'), 'a');
    assert.equal(poolOf(ranges, '10.1.0.11'), 'a', 'the end of a, the base of b: either reading');
    assert.equal(poolOf(ranges, '10.1.0.12'), 'b');
    assert.equal(poolOf(pools, '10.0.255.255'), 'big');
    assert.equal(poolOf(pools, '10.1.0.1'), '');
    assert.equal(poolOf(pools, 'fd00::1:ff'), 'v6');
    assert.equal(poolOf(pools, 'fd00::2:1'), '');
    assert.equal(poolOf(pools, '::ffff:10.93.0.1'), '', 'no mixing of families');
    assert.equal(poolOf(pools, 'garbage'), '');
    assert.equal(ipNumber('255.255.255.255')?.n, 2n ** 32n - 1n);
    assert.equal(ipNumber('::1')?.n, 1n);
    assert.equal(ipNumber('1::')?.n, 1n << 112n);
  });
});
