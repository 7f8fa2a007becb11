import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { FakeCharon, type Reply } from '../../test/fake-charon/server.js';
import { select, value } from '../../test/helpers/exposition.js';
import { counterSet, scrapeFake, success, VERSION_REPLY } from '../../test/helpers/scrape.js';
import { counters } from './counters.js';
import { version } from './version.js';

describe('collector counters', () => {
  const fake = new FakeCharon();
  let reply: Reply = { response: {} };
  before(async () => {
    fake.on('version', () => ({ response: VERSION_REPLY })).on('get-counters', () => reply);
    await fake.listenUnix();
  });
  after(() => fake.close());

  it('writes the global set (section named "") with exchange, direction and kind', async () => {
    const global = counterSet(100);
    global['info-out-resp'] = '18446744073709551615'; // u64 max stays exact
    reply = { response: { counters: { '': global }, success: 'yes' } };
    const { p, text } = await scrapeFake(fake, [counters]);
    assert.equal(success(p, 'counters'), 1);
    assert.equal(value(p, 'strongswan_ike_rekeys_total', { role: 'initiator' }), 100);
    assert.equal(value(p, 'strongswan_ike_rekeys_total', { role: 'responder' }), 101);
    assert.equal(value(p, 'strongswan_child_rekeys_total'), 102);
    assert.equal(value(p, 'strongswan_ike_invalid_messages_total'), 103);
    assert.equal(value(p, 'strongswan_ike_invalid_spi_messages_total'), 104);
    const msgs = select(p, 'strongswan_ike_messages_total');
    assert.equal(msgs.length, 16);
    for (const ex of ['ike-init', 'ike-auth', 'create-child', 'info']) {
      for (const direction of ['in', 'out']) {
        for (const [suffix, kind] of [
          ['req', 'request'],
          ['resp', 'response'],
        ]) {
          const labels = { exchange: ex, direction, kind: kind as string };
          assert.equal(
            value(p, 'strongswan_ike_messages_total', labels),
            Number(global[`${ex}-${direction}-${suffix}`]),
            JSON.stringify(labels),
          );
        }
      }
    }
    assert.equal(
      value(p, 'strongswan_ike_messages_total', { exchange: 'ike-init', direction: 'in', kind: 'request' }),
      105,
    );
    assert.match(
      text,
      /^strongswan_ike_messages_total\{exchange="info",direction="out",kind="response"\} 18446744073709551615$/m,
    );
    assert.match(text, /^# TYPE strongswan_ike_messages_total counter$/m);
    // global counters carry no conn label
    assert.ok(msgs.every((s) => !('conn' in s.labels)));
  });

  for (const [what, r] of [
    [
      'the counters plugin is not loaded (success=no)',
      { response: { success: 'no', errmsg: 'no counters available (plugin missing?)' } },
    ],
    ['the daemon predates get-counters (CMD_UNKNOWN)', 'unknown'],
  ] as [string, Reply][]) {
    it(`${what}: this collector fails, the others do not`, async () => {
      reply = r;
      const { p } = await scrapeFake(fake, [counters, version]);
      assert.equal(success(p, 'counters'), 0);
      assert.equal(success(p, 'version'), 1);
      assert.equal(value(p, 'strongswan_up'), 1);
      assert.equal(select(p, 'strongswan_ike_messages_total').length, 0);
      assert.equal(select(p, 'strongswan_info').length, 1);
    });
  }
});
