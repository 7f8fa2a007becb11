// The default collectors over recorded lab replies (plus hand-made edge cases: a CONNECTING SA, a
// pre-5.5.2 child section, a name that needs escaping, a u64 counter) must produce exactly
// test/golden/default.prom. Run with UPDATE_GOLDEN=1 to rewrite it after an intended change, then
// read the diff. Targeted assertions below say what the golden file must mean.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runScrape } from '../../src/collectors/collector.js';
import { conns } from '../../src/collectors/conns.js';
import { sas } from '../../src/collectors/sas.js';
import { seed } from '../../src/collectors/seed.js';
import { createLogger } from '../../src/log.js';
import { ViciClient } from '../../src/vici/index.js';
import { FIXTURES, serveLabFixtures } from '../fake-charon/fixtures.js';
import { FakeCharon } from '../fake-charon/server.js';
import { parseExposition, select, value } from '../helpers/exposition.js';

const GOLDEN = path.join(FIXTURES, '../golden/default.prom');
const NOW = Date.UTC(2026, 10, 28, 12, 0, 0);
const quiet = createLogger('error', 'json', () => {});

function promtool(): string | undefined {
  try {
    execFileSync('promtool', ['--version'], { stdio: 'ignore' });
    return 'promtool';
  } catch {
    return undefined;
  }
}

describe('golden exposition of the default collectors', () => {
  const fake = serveLabFixtures(new FakeCharon());
  let text = '';
  before(async () => {
    const client = new ViciClient({ address: await fake.listenUnix(), timeoutMs: 2000 });
    const r = await runScrape(client, [seed, sas, conns], 2000, quiet, () => NOW);
    client.close();
    // Durations vary from run to run; everything else is deterministic.
    text = r.exposition
      .text('prometheus')
      .split('\n')
      .filter((l) => !l.startsWith('strongswan_exporter_collector_duration_seconds{'))
      .join('\n');
  });
  after(() => fake.close());

  it('matches test/golden/default.prom byte for byte', () => {
    if (process.env.UPDATE_GOLDEN === '1') fs.writeFileSync(GOLDEN, text);
    assert.equal(text, fs.readFileSync(GOLDEN, 'utf8'));
  });

  it('means what it should', () => {
    const p = parseExposition(text);
    const now = NOW / 1000;
    assert.equal(value(p, 'strongswan_up'), 1);
    // configured-but-down is a 0, not a missing series
    assert.equal(value(p, 'strongswan_conn_up', { conn: 'never' }), 0);
    assert.equal(value(p, 'strongswan_conn_up', { conn: 'site' }), 1);
    assert.equal(value(p, 'strongswan_conn_child_up', { conn: 'never', child: 'nevernet' }), 0);
    assert.equal(value(p, 'strongswan_conn_child_up', { conn: 'site', child: 'net2' }), 1);
    // the seed's packet metrics read the packet counters, not the byte counters
    const b = value(p, 'strongswan_sa_bytes_inbound', { ike_name: 'site', child_name: 'net1' });
    const k = value(p, 'strongswan_sa_packets_inbound', { ike_name: 'site', child_name: 'net1' });
    assert.ok(b > k && k > 0, `bytes ${b} packets ${k}`);
    assert.equal(
      value(p, 'strongswan_child_sa_packets_total', { conn: 'site', child: 'net1', direction: 'in' }),
      k,
    );
    // strongswan_sa_state is 1 for INSTALLED, 0 for anything else
    assert.equal(value(p, 'strongswan_sa_state', { ike_name: 'site', child_name: 'net1' }), 1);
    assert.equal(value(p, 'strongswan_sa_state', { ike_name: 'legacy', child_name: 'lnet' }), 0);
    // relative times become timestamps around the scrape time
    assert.equal(value(p, 'strongswan_ike_sa_established_timestamp_seconds', { conn: 'legacy' }), now - 100);
    assert.equal(value(p, 'strongswan_ike_sa_rekey_timestamp_seconds', { conn: 'legacy' }), now - 5);
    assert.equal(value(p, 'strongswan_child_sa_expire_timestamp_seconds', { conn: 'legacy' }), now + 60);
    assert.equal(value(p, 'strongswan_ike_established_second', { name: 'legacy' }), 100);
    // a CONNECTING SA has a state and no timestamps; an escaped name survives the round trip
    assert.equal(value(p, 'strongswan_ike_sa_state', { conn: 'road"warrior', state: 'CONNECTING' }), 1);
    assert.equal(
      select(p, 'strongswan_ike_sa_established_timestamp_seconds', { conn: 'road"warrior' }).length,
      0,
    );
    // a pre-5.5.2 child section is named by its config; counters keep all u64 digits in the text
    assert.equal(
      value(p, 'strongswan_child_sa_state', { conn: 'legacy', child: 'lnet', state: 'REKEYED' }),
      1,
    );
    assert.match(
      text,
      /strongswan_child_sa_bytes_total\{conn="legacy",[^}]*direction="in"\} 18446744073709551615\n/,
    );
    // seed compatibility: a configured connection without SA is listed with zeros
    assert.equal(value(p, 'strongswan_ike_state', { name: 'never', uniqueid: '' }), 0);
    assert.equal(value(p, 'strongswan_number_of_ikes_connected'), 3);
    assert.equal(value(p, 'strongswan_number_of_known_ikes'), 4);
    for (const c of ['seed', 'sas', 'conns'])
      assert.equal(value(p, 'strongswan_exporter_collector_success', { collector: c }), 1);
  });

  it('passes promtool check metrics (but for the seed camelCase labels)', {
    skip: promtool() === undefined && 'promtool not installed',
  }, () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'golden-'));
    const file = path.join(dir, 'm.prom');
    fs.writeFileSync(file, text);
    let out = '';
    try {
      out = execFileSync('sh', ['-c', `promtool check metrics < ${file} 2>&1`], { encoding: 'utf8' });
    } catch (err) {
      out = String((err as { stdout?: string }).stdout ?? err);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    const problems = out
      .split('\n')
      .filter((l) => l.trim() !== '')
      .filter(
        (l) =>
          !/^strongswan_sa_\w+ label names should be written in 'snake_case' not 'camelCase'$/.test(l.trim()),
      );
    assert.deepEqual(problems, []);
  });
});
