// `strongswan_exporter scrape` on the real lab: one exposition, to a file (atomically, readable by
// all, as node_exporter's textfile collector reads it) or to standard output; exit 0 when charon
// answered, 1 when not; promtool parses it. With a state directory, each run continues the events
// collector's counters and counts from the listings what happened since the run before.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseExposition, value } from '../helpers/exposition.js';
import { CLI, Lab } from './lab.js';

const PROMTOOL = process.env.PROMTOOL ?? '/usr/bin/promtool';

describe('one-shot scrape (scrape subcommand) on the real lab', { timeout: 180_000 }, () => {
  const lab = new Lab();
  let dir = '';
  const run = (...args: string[]) => {
    const r = spawnSync(process.execPath, [CLI, 'scrape', ...args], { encoding: 'utf8', timeout: 30_000 });
    return { code: r.status, out: r.stdout, err: r.stderr };
  };

  before(() => {
    lab.up();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'e2e-scrape-'));
  });
  after(() => {
    lab.down();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('writes the file atomically, readable by all; exit 0; promtool parses it', () => {
    const file = path.join(dir, 'strongswan.prom');
    fs.writeFileSync(file, 'old\n');
    const r = run('--vici.address', lab.vici('gw1'), '--output', file);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, '', 'nothing on standard output');
    assert.deepEqual(fs.readdirSync(dir), ['strongswan.prom'], 'no temporary file left');
    assert.equal(fs.statSync(file).mode & 0o777, 0o644);
    const text = fs.readFileSync(file, 'utf8');
    const p = parseExposition(text);
    assert.equal(value(p, 'strongswan_up'), 1);
    assert.equal(value(p, 'strongswan_conn_up', { conn: 'site' }), 1);
    assert.equal(value(p, 'strongswan_exporter_collector_success', { collector: 'sas' }), 1);
    // one run sees no events: the events collector is off without a state directory
    assert.equal(p.types.has('strongswan_ike_sa_events_total'), false);
    const check = spawnSync(PROMTOOL, ['check', 'metrics'], { input: text, encoding: 'utf8' });
    // 0: clean; 3: lint findings only, which may name nothing but the seed set's label names
    // (camelCase, kept for the dashboards that query them)
    assert.ok(check.status === 0 || check.status === 3, check.stdout + check.stderr);
    for (const line of `${check.stdout}${check.stderr}`.split('\n').filter((l) => l !== ''))
      assert.match(line, /^strongswan_sa_\w+ label names should be written in 'snake_case'/);
  });

  it('to standard output; a reader that stops early ends it quietly', () => {
    const r = spawnSync(
      'sh',
      ['-c', `"${process.execPath}" "${CLI}" scrape --vici.address "${lab.vici('gw1')}" | head -c 300`],
      { encoding: 'utf8', timeout: 30_000 },
    );
    assert.equal(r.status, 0);
    assert.equal(r.stdout.length, 300);
    assert.equal(r.stderr, '');
    const whole = run('--vici.address', lab.vici('gw1'));
    assert.equal(whole.code, 0, whole.err);
    assert.equal(value(parseExposition(whole.out), 'strongswan_conn_up', { conn: 'site' }), 1);
  });

  it('charon away: exit 1, and the file says strongswan_up 0', () => {
    const file = path.join(dir, 'away.prom');
    const r = run('--vici.address', `unix://${path.join(dir, 'nothing.vici')}`, '--output', file);
    assert.equal(r.code, 1);
    assert.equal(value(parseExposition(fs.readFileSync(file, 'utf8')), 'strongswan_up'), 0);
    assert.match(r.err, /daemon unreachable/);
  });

  it('bad flags and an output it cannot write: one line, exit 2, no file', () => {
    for (const args of [
      ['--web.listen-address', ':1'],
      ['--output', path.join(dir, 'no-such-dir', 'x.prom')],
      ['--output', ''],
      ['--vici.timeout', 'soon'],
    ]) {
      const r = run('--vici.address', lab.vici('gw1'), ...args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
      assert.equal(r.err.trim().split('\n').length, 1, r.err);
      assert.match(r.err, /^strongswan_exporter: /);
    }
  });

  it('with a state directory: runs continue the counters and count what happened between them', () => {
    const state = path.join(dir, 'state');
    fs.mkdirSync(state);
    const once = () => {
      const r = run('--vici.address', lab.vici('gw1'), '--collector.events.state-directory', state);
      assert.equal(r.code, 0, r.err);
      return parseExposition(r.out);
    };
    const ike = (p: ReturnType<typeof once>, event: string) =>
      value(p, 'strongswan_ike_sa_events_total', { conn: 'site', event });
    const net1 = (p: ReturnType<typeof once>) =>
      value(p, 'strongswan_conn_child_bytes_total', { conn: 'site', child: 'net1', direction: 'in' });
    const p0 = once();
    assert.equal(ike(p0, 'up'), 0, 'the first run is where counting starts');
    lab.lab('traffic', '3');
    const p1 = once();
    assert.equal(net1(p1), net1(p0) + 3 * 84, 'traffic since the run before');
    lab.swanctl('gw1', '--terminate', '--ike', 'site');
    lab.swanctl('gw1', '--initiate', '--child', 'net1');
    lab.swanctl('gw1', '--initiate', '--child', 'net2');
    const p2 = once();
    assert.equal(ike(p2, 'up'), 1, 'the new IKE SA');
    const p3 = once(); // the old one is a down once a second listing lacks it (the run before's last)
    assert.equal(ike(p3, 'down'), 1);
    assert.equal(ike(p3, 'up'), 1);
    assert.ok(net1(p3) >= net1(p1));
  });
});
