import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { FakeCharon } from '../../test/fake-charon/server.js';
import { select } from '../../test/helpers/exposition.js';
import { scrapeFake, success, VERSION_REPLY } from '../../test/helpers/scrape.js';
import { version } from './version.js';

describe('collector version', () => {
  const fake = new FakeCharon();
  before(async () => {
    fake.on('version', () => ({ response: VERSION_REPLY }));
    await fake.listenUnix();
  });
  after(() => fake.close());

  it('writes strongswan_info with the five fields of the version reply', async () => {
    const { p } = await scrapeFake(fake, [version]);
    assert.deepEqual(select(p, 'strongswan_info'), [
      {
        name: 'strongswan_info',
        labels: {
          daemon: 'charon',
          version: '5.9.8',
          sysname: 'Linux',
          release: '6.1.0-18-amd64',
          machine: 'x86_64',
        },
        value: 1,
      },
    ]);
    assert.equal(success(p, 'version'), 1);
  });

  it('leaves a field the daemon does not send empty', async () => {
    fake.on('version', () => ({ response: { daemon: 'charon-systemd', version: '6.0.1' } }));
    try {
      const { p } = await scrapeFake(fake, [version]);
      assert.deepEqual(select(p, 'strongswan_info')[0]?.labels, {
        daemon: 'charon-systemd',
        version: '6.0.1',
        sysname: '',
        release: '',
        machine: '',
      });
    } finally {
      fake.on('version', () => ({ response: VERSION_REPLY }));
    }
  });
});
