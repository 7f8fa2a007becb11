import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import zlib from 'node:zlib';
import { fixtureReply, serveLabFixtures } from '../../test/fake-charon/fixtures.js';
import { FakeCharon } from '../../test/fake-charon/server.js';
import { parseExposition, value } from '../../test/helpers/exposition.js';
import { serve as serveWith } from '../../test/helpers/serve.js';
import { createLogger } from '../log.js';
import { PacketType } from '../vici/index.js';

const logs: string[] = [];
const log = createLogger('info', 'logfmt', (s) => logs.push(s));

const serve = (address: string, timeoutMs = 5000) => serveWith(address, log, { timeoutMs });

describe('HTTP server', () => {
  const fake = serveLabFixtures(new FakeCharon());
  let s: Awaited<ReturnType<typeof serve>>;
  before(async () => {
    s = await serve(await fake.listenUnix());
  });
  after(async () => {
    await s.close();
    await fake.close();
  });

  it('serves /metrics as text 0.0.4 with the daemon, build and process metrics', async () => {
    const r = await fetch(`${s.url}/metrics`);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
    const p = parseExposition(await r.text());
    assert.equal(value(p, 'strongswan_up'), 1);
    assert.equal(value(p, 'strongswan_exporter_build_info', { version: '9.9.9' }), 1);
    assert.equal(value(p, 'strongswan_conn_up', { conn: 'never' }), 0);
    assert.ok(p.types.get('process_resident_memory_bytes'));
  });

  it('negotiates OpenMetrics', async () => {
    const r = await fetch(`${s.url}/metrics`, {
      headers: { Accept: 'application/openmetrics-text;version=1.0.0,text/plain;q=0.5' },
    });
    assert.equal(r.headers.get('content-type'), 'application/openmetrics-text; version=1.0.0; charset=utf-8');
    const text = await r.text();
    assert.ok(text.endsWith('# EOF\n'));
    assert.equal(text.match(/# EOF/g)?.length, 1);
    assert.match(text, /# TYPE strongswan_child_sa_bytes counter\n/);
    assert.match(text, /\nstrongswan_child_sa_bytes_total\{/);
    // ... and text 0.0.4 afterwards is unharmed (prom-client mutates a registry rendered both ways).
    const again = await (await fetch(`${s.url}/metrics`)).text();
    assert.match(again, /# TYPE strongswan_child_sa_bytes_total counter\n/);
    assert.match(again, /# TYPE process_cpu_seconds_total counter\n/);
  });

  it('gzips when asked, and answers HEAD without a body', async () => {
    const r = await new Promise<http.IncomingMessage>((resolve) =>
      http.get(`${s.url}/metrics`, { headers: { 'Accept-Encoding': 'gzip' } }, resolve),
    );
    assert.equal(r.headers['content-encoding'], 'gzip');
    const chunks: Buffer[] = [];
    for await (const c of r) chunks.push(c as Buffer);
    assert.match(zlib.gunzipSync(Buffer.concat(chunks)).toString(), /^strongswan_up 1$/m);
    const h = await fetch(`${s.url}/metrics`, { method: 'HEAD' });
    assert.equal(h.status, 200);
    assert.equal(await h.text(), '');
  });

  it('answers 404 for unknown paths and 405 for other methods', async () => {
    assert.equal((await fetch(`${s.url}/nope`)).status, 404);
    const r = await fetch(`${s.url}/metrics`, { method: 'POST', body: 'x' });
    assert.equal(r.status, 405);
    assert.equal(r.headers.get('allow'), 'GET, HEAD');
    assert.equal((await fetch(`${s.url}/-/healthy`)).status, 200);
    assert.equal((await fetch(`${s.url}/-/ready`)).status, 200);
    const landing = await fetch(`${s.url}/`);
    assert.equal(landing.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.match(await landing.text(), /href="\/metrics"/);
  });

  it('lets concurrent scrapes share one query', async () => {
    const listings = () =>
      fake.log.filter(([t, n]) => t === PacketType.CMD_REQUEST && n === 'list-sas').length;
    fake.on('list-sas', async () => {
      await sleep(200);
      return fixtureReply('list-sas.jsonl');
    });
    const before = listings();
    const bodies = await Promise.all(
      Array.from({ length: 10 }, () => fetch(`${s.url}/metrics`).then((r) => r.text())),
    );
    assert.equal(listings() - before, 1);
    for (const b of bodies) assert.equal(value(parseExposition(b), 'strongswan_up'), 1);
    assert.ok(s.target.stats.shared >= 9);
    fake.on('list-sas', () => fixtureReply('list-sas.jsonl'));
  });
});

describe('HTTP server with a difficult daemon', () => {
  it('honours X-Prometheus-Scrape-Timeout-Seconds: a silent listing costs that long, not --vici.timeout', async () => {
    const fake = serveLabFixtures(new FakeCharon()).on('list-sas', () => 'silent');
    const s = await serve(await fake.listenUnix(), 10_000);
    try {
      const t0 = Date.now();
      const r = await fetch(`${s.url}/metrics`, {
        headers: { 'X-Prometheus-Scrape-Timeout-Seconds': '1.5' },
      });
      const took = Date.now() - t0;
      const p = parseExposition(await r.text());
      assert.equal(r.status, 200);
      assert.ok(took >= 900 && took < 2000, `took ${took} ms`);
      assert.equal(value(p, 'strongswan_up'), 1);
      assert.equal(value(p, 'strongswan_exporter_collector_success', { collector: 'sas' }), 0);
    } finally {
      await s.close();
      await fake.close();
    }
  });

  it('answers 200 with strongswan_up 0 and one log line when the daemon is away', async () => {
    const s = await serve('unix:///nonexistent/charon.vici');
    try {
      const before = logs.length;
      const r = await fetch(`${s.url}/metrics`);
      assert.equal(r.status, 200);
      const p = parseExposition(await r.text());
      assert.equal(value(p, 'strongswan_up'), 0);
      assert.equal(value(p, 'strongswan_number_of_ikes_connected'), 0);
      assert.equal(value(p, 'strongswan_exporter_collector_success', { collector: 'conns' }), 0);
      const lines = logs.slice(before);
      assert.equal(lines.length, 1);
      assert.match(
        lines[0] ?? '',
        /^ts=\S+ level=warn msg="scrape: daemon unreachable" err=.*no such socket/,
      );
    } finally {
      await s.close();
    }
  });
});
