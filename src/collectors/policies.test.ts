import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { FakeCharon, type Reply } from '../../test/fake-charon/server.js';
import { select, value } from '../../test/helpers/exposition.js';
import { scrapeFake, success, VERSION_REPLY } from '../../test/helpers/scrape.js';
import { str, type ViciSection } from '../vici/index.js';
import { policies } from './policies.js';
import { version } from './version.js';

const policy = (name: string, mode: string) => ({
  name: 'list-policy',
  message: {
    [name]: {
      child: name.split('/').at(-1) ?? name,
      mode,
      'local-ts': ['10.0.0.0/24'],
      'remote-ts': ['10.1.0.0/24'],
    },
  },
});

describe('collector policies', () => {
  const fake = new FakeCharon();
  const requests: ViciSection[] = [];
  let reply: Reply = { response: {} };
  before(async () => {
    fake
      .on('version', () => ({ response: VERSION_REPLY }))
      .on('list-policies', (req) => {
        requests.push(req);
        return reply;
      });
    await fake.listenUnix();
  });
  after(() => fake.close());

  it('asks for trap, drop and pass policies and counts them by mode', async () => {
    reply = {
      events: [
        policy('site/net1', 'TUNNEL'),
        policy('site/net2', 'TRANSPORT'),
        policy('rw/beet', 'BEET'),
        policy('block', 'DROP'),
        policy('ns/local', 'PASS'),
        policy('lan', 'PASS'),
      ],
      response: {},
    };
    requests.length = 0;
    const { p } = await scrapeFake(fake, [policies]);
    assert.equal(success(p, 'policies'), 1);
    const req = requests[0] as ViciSection;
    assert.deepEqual(Object.keys(req).sort(), ['drop', 'pass', 'trap']);
    for (const k of ['drop', 'pass', 'trap']) assert.equal(str(req[k]), 'yes');
    assert.equal(value(p, 'strongswan_policies', { type: 'trap' }), 3);
    assert.equal(value(p, 'strongswan_policies', { type: 'drop' }), 1);
    assert.equal(value(p, 'strongswan_policies', { type: 'pass' }), 2);
  });

  it('no policies: all three types are 0', async () => {
    reply = { response: {} };
    const { p } = await scrapeFake(fake, [policies]);
    assert.deepEqual(
      select(p, 'strongswan_policies').map((s) => [s.labels.type, s.value]),
      [
        ['trap', 0],
        ['drop', 0],
        ['pass', 0],
      ],
    );
  });

  it('a daemon without list-policies fails this collector only', async () => {
    reply = 'unknown';
    const { p } = await scrapeFake(fake, [policies, version]);
    assert.equal(success(p, 'policies'), 0);
    assert.equal(success(p, 'version'), 1);
    assert.equal(select(p, 'strongswan_policies').length, 0);
  });
});
