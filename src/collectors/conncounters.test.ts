import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { FakeCharon, type Reply } from '../../test/fake-charon/server.js';
import { select, value } from '../../test/helpers/exposition.js';
import { counterSet, quietLog, scrapeFake, success, VERSION_REPLY } from '../../test/helpers/scrape.js';
import { str } from '../vici/index.js';
import type { Collector } from './collector.js';
import { conncounters, OVERFLOW_RETRY_MS, PER_NAME_CONNECTIONS } from './conncounters.js';
import { conns } from './conns.js';
import { counters } from './counters.js';
import { version } from './version.js';

const BASE_CONFIGURED = ['site', 'certconn', 'idle'];
let CONFIGURED = BASE_CONFIGURED;
const SETS: Record<string, Record<string, string>> = {
  site: counterSet(1000),
  certconn: counterSet(2000),
  stale: counterSet(3000), // counted once, no longer configured
};

describe('collector conncounters', () => {
  /** The collector as attached to one target (it remembers an overflowing daemon). */
  let cc: Collector;
  const fake = new FakeCharon();
  /** Every get-counters request: 'all', 'global' or the name asked for. */
  let asked: string[] = [];
  /** The connections that asked get-counters with a name. */
  const askers = new Set<unknown>();
  let all: 'answer' | 'silent' | 'plugin-missing' = 'answer';
  let perName: 'answer' | 'plugin-missing' = 'answer';
  before(async () => {
    fake
      .on('version', () => ({ response: VERSION_REPLY }))
      .on('list-sas', () => ({ response: {} }))
      .on('list-conns', () => ({
        events: CONFIGURED.map((n) => ({
          name: 'list-conn',
          message: { [n]: { version: 'IKEv2', children: { [`${n}net`]: { mode: 'TUNNEL' } } } },
        })),
        response: {},
      }))
      .on('get-counters', (req, conn): Reply => {
        const name = str(req.name);
        const missing = { response: { success: 'no', errmsg: 'no counters available (plugin missing?)' } };
        if (str(req.all) === 'yes') {
          asked.push('all');
          if (all === 'silent') return 'silent'; // what charon does with a reply over 512 KiB
          if (all === 'plugin-missing') return missing;
          return { response: { counters: SETS, success: 'yes' } };
        }
        if (name === undefined) {
          asked.push('global');
          return { response: { counters: { '': counterSet(1) }, success: 'yes' } };
        }
        asked.push(name);
        askers.add(conn);
        if (perName === 'plugin-missing') return missing;
        const set = SETS[name];
        if (set === undefined)
          return { response: { success: 'no', errmsg: 'no counters found for this connection' } };
        return { response: { counters: { [name]: set }, success: 'yes' } };
      });
    await fake.listenUnix();
  });
  after(() => fake.close());
  beforeEach(() => {
    cc = conncounters.attach?.({ address: fake.address, timeoutMs: 2000, log: quietLog }) as Collector;
    CONFIGURED = BASE_CONFIGURED;
    askers.clear();
    asked = [];
    all = 'answer';
    perName = 'answer';
  });

  type P = Awaited<ReturnType<typeof scrapeFake>>['p'];

  function assertSet(p: P, conn: string, base: number): void {
    assert.equal(value(p, 'strongswan_conn_ike_rekeys_total', { conn, role: 'initiator' }), base);
    assert.equal(value(p, 'strongswan_conn_ike_rekeys_total', { conn, role: 'responder' }), base + 1);
    assert.equal(value(p, 'strongswan_conn_child_rekeys_total', { conn }), base + 2);
    assert.equal(value(p, 'strongswan_conn_ike_invalid_messages_total', { conn }), base + 3);
    assert.equal(value(p, 'strongswan_conn_ike_invalid_spi_messages_total', { conn }), base + 4);
    const m = (exchange: string, direction: string, kind: string) =>
      value(p, 'strongswan_conn_ike_messages_total', { conn, exchange, direction, kind });
    assert.equal(m('ike-init', 'in', 'request'), base + 5);
    assert.equal(m('ike-auth', 'out', 'response'), base + 12);
    assert.equal(m('create-child', 'in', 'response'), base + 14);
    assert.equal(m('info', 'out', 'response'), base + 20);
    assert.equal(select(p, 'strongswan_conn_ike_messages_total', { conn }).length, 16);
  }

  function assertZeros(p: P, conn: string): void {
    const mine = [
      'strongswan_conn_ike_messages_total',
      'strongswan_conn_ike_rekeys_total',
      'strongswan_conn_child_rekeys_total',
      'strongswan_conn_ike_invalid_messages_total',
      'strongswan_conn_ike_invalid_spi_messages_total',
    ];
    const all = p.samples.filter((s) => mine.includes(s.name) && s.labels.conn === conn);
    assert.equal(all.length, 21);
    assert.ok(all.every((s) => s.value === 0));
  }

  it('is off by default', () => {
    assert.equal(conncounters.defaultEnabled, false);
  });

  it('all=yes: every set of the reply, zeros for a configured connection without counters', async () => {
    const { p } = await scrapeFake(fake, [cc]);
    assert.equal(success(p, 'conncounters'), 1);
    assert.deepEqual(asked, ['all']);
    assertSet(p, 'site', 1000);
    assertSet(p, 'certconn', 2000);
    assertSet(p, 'stale', 3000);
    assertZeros(p, 'idle');
    // and nothing global: that is the counters collector's, under other names
    assert.equal(select(p, 'strongswan_ike_messages_total').length, 0);
  });

  it('all=yes never answered (over 512 KiB): per-name queries, and the other collectors are unharmed', async () => {
    all = 'silent';
    const first = await scrapeFake(fake, [cc, counters, version, conns], 1000);
    const p = first.p;
    assert.deepEqual(
      asked.filter((a) => a !== 'global'),
      ['all', ...CONFIGURED],
    );
    assert.equal(success(p, 'conncounters'), 1);
    assertSet(p, 'site', 1000);
    assertSet(p, 'certconn', 2000);
    assertZeros(p, 'idle');
    assert.equal(select(p, 'strongswan_conn_ike_rekeys_total', { conn: 'stale' }).length, 0);
    // all=yes had half of the 1 s budget, the rest was left for the per-name queries
    assert.ok(first.ms >= 450 && first.ms < 1000, `${first.ms} ms`);
    // the dropped reply cost only conncounters' own connection
    for (const c of ['counters', 'version', 'conns']) assert.equal(success(p, c), 1, c);
    assert.equal(value(p, 'strongswan_ike_rekeys_total', { role: 'initiator' }), 1);
    assert.equal(value(p, 'strongswan_conn_up', { conn: 'site' }), 0);

    // the next scrape remembers: straight to per-name, no wait
    asked = [];
    const second = await scrapeFake(fake, [cc], 1000);
    assert.deepEqual(asked, CONFIGURED);
    assert.equal(success(second.p, 'conncounters'), 1);
    assertSet(second.p, 'certconn', 2000);
    assert.ok(second.ms < 300, `${second.ms} ms`);
  });

  it('many connections: the per-name queries run on several connections at once', async () => {
    all = 'silent';
    CONFIGURED = [...BASE_CONFIGURED, ...Array.from({ length: 197 }, (_, i) => `extra${i + 1}`)];
    const { p } = await scrapeFake(fake, [cc, version], 1000);
    assert.equal(success(p, 'conncounters'), 1);
    assert.equal(asked.filter((a) => a !== 'all').length, 200);
    assert.equal(askers.size, PER_NAME_CONNECTIONS);
    assertSet(p, 'certconn', 2000);
    assertZeros(p, 'extra197');
    const conns = new Set(select(p, 'strongswan_conn_child_rekeys_total').map((x) => x.labels.conn));
    assert.equal(conns.size, 200);
    // in the order list-conns gave them, whatever order the answers came in
    assert.deepEqual(
      select(p, 'strongswan_conn_child_rekeys_total').map((x) => x.labels.conn),
      CONFIGURED,
    );
  });

  it('after the retry interval it tries all=yes again', async () => {
    all = 'silent';
    await scrapeFake(fake, [cc], 400);
    all = 'answer';
    asked = [];
    const realNow = Date.now;
    Date.now = () => realNow() + OVERFLOW_RETRY_MS;
    try {
      const { p } = await scrapeFake(fake, [cc], 1000);
      assert.deepEqual(asked, ['all']);
      assertSet(p, 'stale', 3000);
    } finally {
      Date.now = realNow;
    }
  });

  it('without the counters plugin: this collector fails, the others do not', async () => {
    all = 'plugin-missing';
    const { p } = await scrapeFake(fake, [cc, version, conns]);
    assert.equal(success(p, 'conncounters'), 0);
    assert.equal(success(p, 'version'), 1);
    assert.equal(success(p, 'conns'), 1);
    assert.equal(select(p, 'strongswan_conn_ike_messages_total').length, 0);
  });

  it('a failure during the per-name fallback fails the collector', async () => {
    all = 'silent';
    perName = 'plugin-missing';
    const { p } = await scrapeFake(fake, [cc, version], 600);
    assert.equal(success(p, 'conncounters'), 0);
    assert.equal(success(p, 'version'), 1);
    assert.deepEqual(asked, ['all', 'site']);
  });
});
