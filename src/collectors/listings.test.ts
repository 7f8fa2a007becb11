// The two listings of a scrape: one list-sas and one list-conns, shared by every collector that uses
// them, list-conns after list-sas (so that a collector can write each connection with what it saw of
// the SAs, as the connection arrives, and keep no summary of it).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FakeCharon } from '../../test/fake-charon/server.js';
import { value } from '../../test/helpers/exposition.js';
import { quietLog, scrapeFake, success, VERSION_REPLY } from '../../test/helpers/scrape.js';
import { PacketType } from '../vici/packet.js';
import type { Collector } from './collector.js';
import { conncounters } from './conncounters.js';
import { conns } from './conns.js';
import { events } from './events.js';
import { COLLECTORS } from './registry.js';
import { seed } from './seed.js';

const ike = (state: string, child: string) => ({
  uniqueid: '1',
  state,
  'child-sas': {
    [`${child}-1`]: { name: child, uniqueid: '1', state: 'INSTALLED', 'spi-in': 'c1', 'spi-out': 'c2' },
  },
});

describe('the listings of a scrape', () => {
  const fake = new FakeCharon();
  before(async () => {
    fake
      .on('version', () => ({ response: VERSION_REPLY }))
      .on('list-sas', () => ({
        events: [{ name: 'list-sa', message: { gw: ike('ESTABLISHED', 'net') } }],
        response: {},
      }))
      .on('list-conns', () => ({
        events: [
          { name: 'list-conn', message: { gw: { version: 'IKEv2', children: { net: {}, dmz: {} } } } },
          {
            name: 'list-conn',
            message: { idle: { version: 'IKEv1', local_addrs: ['192.0.2.1'], children: { lan: {} } } },
          },
        ],
        response: {},
      }))
      .on('get-counters', () => ({ response: { success: 'no', errmsg: 'no counters available' } }))
      .on('get-pools', () => ({ response: {} }));
    await fake.listenUnix();
  });
  after(() => fake.close());

  it('lists SAs once, then connections once, for every collector that uses them', async () => {
    const attached: (Collector & { detach?(): void })[] = [];
    const ev = events.attach?.({ address: fake.address, timeoutMs: 2000, log: quietLog });
    if (ev) attached.push(ev);
    try {
      fake.log.length = 0;
      const { p } = await scrapeFake(fake, [seed, conns, conncounters, ...attached]);
      const asked = fake.log.filter(([t]) => t === PacketType.CMD_REQUEST).map(([, n]) => n);
      assert.deepEqual(
        asked.filter((n) => n === 'list-sas' || n === 'list-conns'),
        ['list-sas', 'list-conns'],
        asked.join(' '),
      );
      for (const c of ['seed', 'conns', 'events']) assert.equal(success(p, c), 1, c);

      // conns: each connection with what the SA listing showed
      assert.equal(value(p, 'strongswan_conn_up', { conn: 'gw' }), 1);
      assert.equal(value(p, 'strongswan_conn_up', { conn: 'idle' }), 0);
      assert.equal(value(p, 'strongswan_conn_child_up', { conn: 'gw', child: 'net' }), 1);
      assert.equal(value(p, 'strongswan_conn_child_up', { conn: 'gw', child: 'dmz' }), 0);
      assert.equal(
        value(p, 'strongswan_conn_info', { conn: 'idle', version: 'IKEv1', local_addrs: '192.0.2.1' }),
        1,
      );
      // seed: the configured connection without an SA, with zero values
      assert.equal(value(p, 'strongswan_ike_state', { name: 'idle', uniqueid: '' }), 0);
      assert.equal(value(p, 'strongswan_number_of_known_ikes'), 2);
      // events: configured children have their series from the start
      assert.equal(
        value(p, 'strongswan_conn_child_bytes_total', { conn: 'idle', child: 'lan', direction: 'in' }),
        0,
      );
    } finally {
      for (const c of attached) c.detach?.();
    }
  });

  it('lists SAs and connections once with every collector on, the opt-in ones included', async () => {
    // A collector that awaits anything before it asks for the SAs misses the shared listing and
    // makes a second one (the whole listing decoded twice). The first scrape with a state file is
    // the one where the events and users collectors decide on it.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'listings-'));
    const stateFile = path.join(dir, 'metrics.events.json');
    const all = COLLECTORS.map(
      (c) => c.attach?.({ address: fake.address, timeoutMs: 2000, log: quietLog, stateFile }) ?? c,
    ) as (Collector & { detach?(): void })[];
    try {
      for (const scrape of ['first', 'second']) {
        fake.log.length = 0;
        const { p } = await scrapeFake(fake, all);
        const asked = fake.log.filter(([t]) => t === PacketType.CMD_REQUEST).map(([, n]) => n);
        assert.deepEqual(
          asked.filter((n) => n === 'list-sas' || n === 'list-conns'),
          ['list-sas', 'list-conns'],
          `${scrape} scrape: ${asked.join(' ')}`,
        );
        for (const c of ['seed', 'sas', 'conns', 'events', 'users']) assert.equal(success(p, c), 1, c);
        // the SA listed while the state file was decided on is counted
        assert.equal(value(p, 'strongswan_conn_child_up', { conn: 'gw', child: 'net' }), 1);
        assert.equal(value(p, 'strongswan_user_up', { conn: 'gw', user: '' }), 1);
      }
    } finally {
      for (const c of all) c.detach?.();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
