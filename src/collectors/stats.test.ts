import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { FakeCharon } from '../../test/fake-charon/server.js';
import { select, value } from '../../test/helpers/exposition.js';
import { quietLog, scrapeFake, success, VERSION_REPLY } from '../../test/helpers/scrape.js';
import type { ViciInput } from '../vici/index.js';
import { parseSince, stableStart, stats } from './stats.js';
import { version } from './version.js';

// What charon 5.9.8 answered in the lab (swanctl --stats --raw), with distinct numbers.
const STATS: ViciInput = {
  uptime: { running: '3 minutes', since: 'Nov 28 04:27:44 2026' },
  workers: { total: '16', idle: '7', active: { critical: '4', high: '1', medium: '3', low: '1' } },
  queues: { critical: '0', high: '2', medium: '5', low: '9' },
  scheduled: '11',
  ikesas: { total: '101', 'half-open': '3' },
  plugins: ['charon', 'random', 'nonce', 'aes', 'vici', 'counters'],
  mallinfo: { sbrk: '2580480', mmap: '0', used: '810272', free: '1770208' },
};

describe('parseSince (stats uptime.since)', () => {
  const tz = process.env.TZ;
  afterEach(() => {
    if (tz === undefined) delete process.env.TZ;
    else process.env.TZ = tz;
  });

  it('reads the text as local time of this process', () => {
    assert.equal(parseSince('Nov 28 04:27:44 2026'), new Date(2026, 10, 28, 4, 27, 44).getTime() / 1000);
    process.env.TZ = 'UTC';
    assert.equal(parseSince('Nov 28 04:27:44 2026'), Date.UTC(2026, 10, 28, 4, 27, 44) / 1000);
    assert.equal(parseSince('Mar 05 12:34:56 2024'), Date.UTC(2024, 2, 5, 12, 34, 56) / 1000);
    assert.equal(parseSince('Mar  5 12:34:56 2024'), Date.UTC(2024, 2, 5, 12, 34, 56) / 1000);
  });

  it('honours TZ: the same text is a different instant in another zone', () => {
    process.env.TZ = 'Europe/Zurich';
    // CET in winter (UTC+1), CEST in summer (UTC+2)
    assert.equal(parseSince('Nov 28 04:27:44 2026'), Date.UTC(2026, 10, 28, 3, 27, 44) / 1000);
    assert.equal(parseSince('Jul 01 12:00:00 2025'), Date.UTC(2025, 6, 1, 10, 0, 0) / 1000);
    process.env.TZ = 'America/New_York';
    assert.equal(parseSince('Jan 15 00:00:00 2025'), Date.UTC(2025, 0, 15, 5, 0, 0) / 1000);
  });

  it('gives undefined for anything else', () => {
    for (const s of [
      undefined,
      '',
      '3 minutes',
      'Foo 28 04:27:44 2026',
      '2026-11-28 04:27:44',
      'Nov 28 2026',
    ])
      assert.equal(parseSince(s), undefined, String(s));
  });
});

describe('collector stats', () => {
  const fake = new FakeCharon();
  let reply: ViciInput | 'unknown' = STATS;
  before(async () => {
    fake
      .on('version', () => ({ response: VERSION_REPLY }))
      .on('stats', () => (reply === 'unknown' ? 'unknown' : { response: reply }));
    await fake.listenUnix();
  });
  after(() => fake.close());

  it('maps every stats field to its family', async () => {
    reply = STATS;
    const { p } = await scrapeFake(fake, [stats]);
    assert.equal(success(p, 'stats'), 1);
    assert.equal(value(p, 'strongswan_daemon_start_time_seconds'), parseSince('Nov 28 04:27:44 2026'));
    assert.equal(value(p, 'strongswan_daemon_ike_sas'), 101);
    assert.equal(value(p, 'strongswan_daemon_half_open_ike_sas'), 3);
    assert.equal(value(p, 'strongswan_daemon_worker_pool_threads'), 16);
    const threads = Object.fromEntries(
      select(p, 'strongswan_daemon_worker_threads').map((s) => [s.labels.state, s.value]),
    );
    assert.deepEqual(threads, { idle: 7, critical: 4, high: 1, medium: 3, low: 1 });
    const queues = Object.fromEntries(
      select(p, 'strongswan_daemon_job_queue_length').map((s) => [s.labels.priority, s.value]),
    );
    assert.deepEqual(queues, { critical: 0, high: 2, medium: 5, low: 9 });
    assert.equal(value(p, 'strongswan_daemon_scheduled_jobs'), 11);
    assert.deepEqual(
      select(p, 'strongswan_daemon_plugin_info').map((s) => [s.labels.plugin, s.value]),
      ['charon', 'random', 'nonce', 'aes', 'vici', 'counters'].map((x) => [x, 1]),
    );
    const heap = Object.fromEntries(
      select(p, 'strongswan_daemon_malloc_bytes').map((s) => [s.labels.kind, s.value]),
    );
    assert.deepEqual(heap, { sbrk: 2580480, mmap: 0, used: 810272, free: 1770208 });
  });

  it('leaves out what the daemon does not report (no mallinfo, unparsable since)', async () => {
    const { mallinfo: _m, ...rest } = STATS as Record<string, unknown>;
    reply = { ...(rest as ViciInput), uptime: { running: '1 second', since: 'garbage' } };
    const { p } = await scrapeFake(fake, [stats]);
    assert.equal(success(p, 'stats'), 1);
    assert.equal(select(p, 'strongswan_daemon_malloc_bytes').length, 0);
    assert.equal(select(p, 'strongswan_daemon_start_time_seconds').length, 0);
    assert.equal(value(p, 'strongswan_daemon_ike_sas'), 101);
  });

  it('keeps the start time of one daemon run still, though charon works it out anew each time', async () => {
    const attached = stats.attach?.({ address: fake.address, timeoutMs: 2000, log: quietLog });
    assert.ok(attached);
    const at = (since: string) =>
      ({ ...(STATS as Record<string, unknown>), uptime: { running: 'x', since } }) as ViciInput;
    const start = async (since: string) => {
      reply = at(since);
      return value((await scrapeFake(fake, [attached])).p, 'strongswan_daemon_start_time_seconds');
    };
    const t = parseSince('Nov 28 04:27:44 2026') as number;
    assert.equal(await start('Nov 28 04:27:44 2026'), t);
    assert.equal(await start('Nov 28 04:27:45 2026'), t, 'one second later: the same run');
    assert.equal(await start('Nov 28 04:27:43 2026'), t);
    // a restart: the new start, and from then on that one
    assert.equal(await start('Nov 28 05:00:00 2026'), parseSince('Nov 28 05:00:00 2026'));
    assert.equal(await start('Nov 28 05:00:01 2026'), parseSince('Nov 28 05:00:00 2026'));
    // unattached (a one-off scrape): as read
    reply = at('Nov 28 04:27:45 2026');
    assert.equal(value((await scrapeFake(fake, [stats])).p, 'strongswan_daemon_start_time_seconds'), t + 1);
    assert.equal(stableStart(undefined, 5), 5);
    assert.equal(stableStart(5, 8), 8);
  });

  it('a daemon without stats fails this collector only', async () => {
    reply = 'unknown';
    const { p } = await scrapeFake(fake, [stats, version]);
    assert.equal(success(p, 'stats'), 0);
    assert.equal(success(p, 'version'), 1);
    assert.equal(value(p, 'strongswan_up'), 1);
    assert.equal(select(p, 'strongswan_daemon_ike_sas').length, 0);
    assert.equal(select(p, 'strongswan_info').length, 1);
  });
});
