// Exporter restarts on the real lab, with traffic counted by charon itself (swanctl --raw): without a
// state directory the traffic per child config restarts from 0 and never re-adds what the live SA had
// passed before; with one, a restarted exporter continues its cumulative and event counters and loses
// nothing that passed while it was away (SIGTERM); a corrupt or stale state file gives one log line and
// a clean start.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Parsed, parseExposition, value } from '../helpers/exposition.js';
import { type Child, getFresh, startExporter, waitFor } from '../helpers/processes.js';
import { parseSwanctlRaw, type RawTree } from '../helpers/swanctl-raw.js';
import { Lab } from './lab.js';

const NET1_IN = { conn: 'site', child: 'net1', direction: 'in' };
const NET1_OUT = { conn: 'site', child: 'net1', direction: 'out' };

describe('exporter restarts on the real lab', { timeout: 240_000 }, () => {
  const lab = new Lab();
  let dir = '';
  let exporter: (Child & { url: string }) | undefined;

  before(() => {
    lab.up();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'e2e-state-'));
  });
  after(async () => {
    await exporter?.stop();
    lab.down();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** The CHILD SAs of site/net1 as charon counts them. */
  const net1Sas = (): { id: string; in: number; out: number }[] => {
    const sas: { id: string; in: number; out: number }[] = [];
    for (const m of parseSwanctlRaw(lab.swanctl('gw1', '--list-sas', '--raw', '--ike', 'site'))) {
      if (m.kind !== 'event') continue;
      const ike = m.message.site as RawTree | undefined;
      for (const c of Object.values((ike?.['child-sas'] as RawTree | undefined) ?? {}) as RawTree[])
        if (c.name === 'net1')
          sas.push({ id: c.uniqueid as string, in: Number(c['bytes-in']), out: Number(c['bytes-out']) });
    }
    return sas;
  };
  /** bytes in and out of site/net1, all its CHILD SAs together. */
  const charonBytes = (): { in: number; out: number } =>
    net1Sas().reduce((a, s) => ({ in: a.in + s.in, out: a.out + s.out }), { in: 0, out: 0 });
  const scrape = async (): Promise<Parsed> =>
    parseExposition((await getFresh(`${exporter?.url}/metrics`)).text);
  const totals = (p: Parsed) => ({
    in: value(p, 'strongswan_conn_child_bytes_total', NET1_IN),
    out: value(p, 'strongswan_conn_child_bytes_total', NET1_OUT),
  });
  const stop = async () => {
    await exporter?.stop();
    const out = exporter?.output ?? '';
    exporter = undefined;
    return out;
  };
  const start = async (...args: string[]) => {
    await stop(); // one left by a test that failed half-way
    exporter = await startExporter(['--vici.address', lab.vici('gw1'), '--vici.timeout', '3s', ...args]);
    await waitFor(
      'subscription',
      async () => value(await scrape(), 'strongswan_exporter_events_connected') === 1,
    );
  };

  it('without a state directory: restarts from 0, never re-adds what the live SA passed before', async () => {
    lab.lab('traffic', '3');
    const before0 = charonBytes();
    assert.ok(before0.in > 0, 'traffic before the exporter');
    await start();
    assert.deepEqual(
      totals(await scrape()),
      { in: 0, out: 0 },
      'what passed before is not this process to count',
    );
    lab.lab('traffic', '4');
    const a = charonBytes();
    assert.deepEqual(totals(await scrape()), { in: a.in - before0.in, out: a.out - before0.out });
    await stop();

    lab.lab('traffic', '2'); // while no exporter runs: nobody can count it without a state file
    const b0 = charonBytes();
    await start();
    // A reset to 0 (Prometheus takes the new value as the increase), not the SA's whole count again.
    assert.deepEqual(totals(await scrape()), { in: 0, out: 0 });
    lab.lab('traffic', '3');
    const b = charonBytes();
    assert.deepEqual(totals(await scrape()), { in: b.in - b0.in, out: b.out - b0.out });
    await stop();
  });

  it('with a state directory: continues across restarts and loses nothing on SIGTERM', async () => {
    const s0 = charonBytes();
    await start('--collector.events.state-directory', dir);
    assert.match(exporter?.output ?? '', /events: no state file yet, counting from 0/);
    lab.lab('traffic', '3');
    lab.swanctl('gw1', '--rekey', '--ike', 'site'); // an IKE rekey, counted, must survive the restart
    await waitFor(
      'ike rekey',
      async () =>
        value(await scrape(), 'strongswan_ike_sa_events_total', { conn: 'site', event: 'rekey' }) === 1,
    );
    // After the last scrape: only the listing at SIGTERM sees it, and the SA that carried it ends
    // while the exporter is away (a CHILD SA rekey), so nobody else ever will.
    lab.lab('traffic', '2');
    const [old] = net1Sas();
    assert.ok(old && net1Sas().length === 1);
    const out = await stop();
    assert.doesNotMatch(out, /cannot write/);
    const file = path.join(dir, 'metrics.events.json');
    const text = fs.readFileSync(file, 'utf8');
    const saved = JSON.parse(text) as { kind: string; version: number };
    assert.deepEqual([saved.kind, saved.version], ['strongswan_exporter events state', 3]);
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    const psk = fs.readFileSync(path.join(lab.env.LAB_DIR as string, 'psk'), 'utf8').trim();
    assert.ok(psk.length > 0 && !text.toLowerCase().includes(psk.toLowerCase()), 'no secret in the state');

    lab.swanctl('gw1', '--rekey', '--child', 'net1');
    await waitFor('the old CHILD SA gone', async () => {
      const sas = net1Sas();
      return sas.length === 1 && sas[0]?.id !== old.id;
    });
    lab.lab('traffic', '2'); // through the new SA, while the exporter is away
    const fresh = charonBytes();
    await start('--collector.events.state-directory', dir);
    assert.match(exporter?.output ?? '', /events: counters continue from the state file/);
    const p = await scrape();
    // everything since the first exporter first saw the SA: the old SA to its end, the new one
    const want = { in: old.in - s0.in + fresh.in, out: old.out - s0.out + fresh.out };
    assert.deepEqual(totals(p), want, JSON.stringify({ s0, old, fresh, out: exporter?.output }));
    assert.equal(value(p, 'strongswan_ike_sa_events_total', { conn: 'site', event: 'rekey' }), 1);
    lab.lab('traffic', '1');
    const later = charonBytes();
    assert.deepEqual(totals(await scrape()), {
      in: want.in + later.in - fresh.in,
      out: want.out + later.out - fresh.out,
    });
    await stop();
  });

  it('a corrupt state file: one log line, a clean start, and a good file again at shutdown', async () => {
    const file = path.join(dir, 'metrics.events.json');
    fs.writeFileSync(file, '{"kind":"strongswan_exporter events state","version":2,"savedAt":1,"addr');
    await start('--collector.events.state-directory', dir);
    const lines = (exporter?.output ?? '').split('\n').filter((l) => l.includes('state file'));
    assert.equal(lines.length, 1, lines.join('\n'));
    assert.match(
      lines[0] as string,
      /level=warn msg="events: state file not used, counting from 0" .*why="not JSON/,
    );
    assert.deepEqual(totals(await scrape()), { in: 0, out: 0 });
    await stop();
    assert.equal((JSON.parse(fs.readFileSync(file, 'utf8')) as { version: number }).version, 3);
  });

  it('a state file of another run of the daemon: one log line, a clean start', async () => {
    lab.lab('restart-charon', 'gw1');
    await start('--collector.events.state-directory', dir);
    assert.match(
      exporter?.output ?? '',
      /events: state file not used, counting from 0" .*why="stale: written for another run of the daemon"/,
    );
    assert.deepEqual(totals(await scrape()), { in: 0, out: 0 });
    assert.equal(
      value(await scrape(), 'strongswan_ike_sa_events_total', { conn: 'site', event: 'rekey' }),
      0,
    );
    await stop();
  });
});
