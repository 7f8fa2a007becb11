import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { FakeCharon } from '../../test/fake-charon/server.js';
import { select, value } from '../../test/helpers/exposition.js';
import { scrapeFake, success, VERSION_REPLY } from '../../test/helpers/scrape.js';
import type { ViciInput, ViciSection } from '../vici/index.js';
import { pools } from './pools.js';
import { version } from './version.js';

describe('collector pools', () => {
  const fake = new FakeCharon();
  const requests: ViciSection[] = [];
  let reply: ViciInput | 'unknown' = {};
  before(async () => {
    fake
      .on('version', () => ({ response: VERSION_REPLY }))
      .on('get-pools', (req) => {
        requests.push(req);
        return reply === 'unknown' ? 'unknown' : { response: reply };
      });
    await fake.listenUnix();
  });
  after(() => fake.close());

  it('writes size, online and offline per pool, and never asks for the lease list', async () => {
    reply = {
      rw_pool: { base: '10.93.0.0', size: '14', online: '3', offline: '2' },
      'big "pool"': { base: '10.0.0.0', size: '65534', online: '60000', offline: '0' },
    };
    requests.length = 0;
    const { p } = await scrapeFake(fake, [pools]);
    assert.equal(success(p, 'pools'), 1);
    assert.equal(requests.length, 1);
    assert.deepEqual(Object.keys(requests[0] ?? { x: 1 }), [], 'get-pools without leases (or any key)');
    assert.equal(value(p, 'strongswan_pool_addresses', { pool: 'rw_pool' }), 14);
    assert.equal(value(p, 'strongswan_pool_leases', { pool: 'rw_pool', state: 'online' }), 3);
    assert.equal(value(p, 'strongswan_pool_leases', { pool: 'rw_pool', state: 'offline' }), 2);
    assert.equal(value(p, 'strongswan_pool_addresses', { pool: 'big "pool"' }), 65534);
    assert.equal(value(p, 'strongswan_pool_leases', { pool: 'big "pool"', state: 'online' }), 60000);
    assert.equal(select(p, 'strongswan_pool_leases').length, 4);
  });

  it('no pools: no series, still a success', async () => {
    reply = {};
    const { p } = await scrapeFake(fake, [pools]);
    assert.equal(success(p, 'pools'), 1);
    assert.equal(select(p, 'strongswan_pool_addresses').length, 0);
  });

  it('a daemon without get-pools fails this collector only', async () => {
    reply = 'unknown';
    const { p } = await scrapeFake(fake, [pools, version]);
    assert.equal(success(p, 'pools'), 0);
    assert.equal(success(p, 'version'), 1);
    assert.equal(select(p, 'strongswan_info').length, 1);
  });
});
