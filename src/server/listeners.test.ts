// The HTTP side under hostile clients: slow and idle clients are cut off, oversized heads get 431,
// many concurrent scrapers all get an answer, and none of it costs unbounded memory.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { serveLabFixtures } from '../../test/fake-charon/fixtures.js';
import { FakeCharon } from '../../test/fake-charon/server.js';
import { COLLECTORS } from '../collectors/registry.js';
import { createLogger } from '../log.js';
import { SelfMetrics } from '../metrics/self.js';
import { createServer, listen, type Server, systemdFds } from './listeners.js';
import { createHandler } from './server.js';
import { Target } from './target.js';

const log = createLogger('error', 'json', () => {});

/** Raw TCP: send `data`, resolve with what the server answered when it closes (or after ms). */
function raw(port: number, data: string | Buffer, ms = 5000): Promise<{ text: string; closedMs: number }> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const s = net.connect(port, '127.0.0.1', () => s.write(data));
    let text = '';
    s.setEncoding('latin1').on('data', (d: string) => {
      text += d;
    });
    const timer = setTimeout(() => {
      s.destroy();
      resolve({ text, closedMs: -1 });
    }, ms);
    s.on('close', () => {
      clearTimeout(timer);
      resolve({ text, closedMs: Date.now() - t0 });
    });
    s.on('error', reject);
  });
}

describe('HTTP listeners under hostile clients', () => {
  const fake = serveLabFixtures(new FakeCharon());
  let server: Server;
  let target: Target;
  let handler: ReturnType<typeof createHandler>;
  let port = 0;
  before(async () => {
    target = new Target({
      name: 'default',
      address: await fake.listenUnix(),
      timeoutMs: 3000,
      collectors: COLLECTORS.filter((c) => c.defaultEnabled && c.name !== 'events'),
      log,
    });
    handler = createHandler({
      target,
      telemetryPath: '/metrics',
      selfMetrics: new SelfMetrics(false),
      version: 't',
      log,
    });
    server = createServer(handler, undefined, {
      headersTimeout: 600,
      requestTimeout: 1000,
      keepAliveTimeout: 300,
      maxHeaderSize: 16_384,
      connectionsCheckingInterval: 100,
    });
    port = Number((await listen(server, { host: '127.0.0.1', port: 0 })).split(':').pop());
  });
  after(async () => {
    await target.close();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    await fake.close();
  });

  it('cuts off a client that never finishes its request head', async () => {
    const r = await raw(port, 'GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ', 5000);
    assert.ok(r.closedMs > 0 && r.closedMs < 3000, `closed after ${r.closedMs} ms`);
    assert.match(r.text, /^HTTP\/1\.1 408/);
  });

  it('closes an idle kept-alive connection', async () => {
    const r = await raw(port, 'GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n', 5000);
    assert.match(r.text, /^HTTP\/1\.1 200/);
    assert.ok(r.closedMs > 0 && r.closedMs < 2500, `closed after ${r.closedMs} ms`);
  });

  it('answers 431 to oversized headers and URLs', async () => {
    const big = await raw(port, `GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    assert.match(big.text, /^HTTP\/1\.1 431/);
    const url = await raw(port, `GET /metrics?${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`);
    assert.match(url.text, /^HTTP\/1\.1 431/);
  });

  it('answers 400 to garbage instead of a request', async () => {
    const r = await raw(port, Buffer.from([0x16, 0x03, 0x01, 0x00, 0xff, 0, 1, 2, 3, 13, 10, 13, 10]));
    assert.match(r.text, /^HTTP\/1\.1 400/);
  });

  it('answers 4xx to wrong methods, paths and probe targets', async () => {
    const base = `http://127.0.0.1:${port}`;
    assert.equal((await fetch(`${base}/metrics`, { method: 'DELETE' })).status, 405);
    assert.equal((await fetch(`${base}/metrics/../etc/passwd`)).status, 404);
    assert.equal((await fetch(`${base}/probe?target=gw1`)).status, 404, 'no --config.file: no /probe');
    assert.equal((await fetch(`${base}/%ff%fe`)).status, 404);
  });

  it('serves 200 concurrent scrapers, all complete, with bounded memory', async () => {
    // The production limits: the tight ones above would race the client's keep-alive reuse.
    const prod = createServer(handler, undefined);
    const base = `http://127.0.0.1:${(await listen(prod, { host: '127.0.0.1', port: 0 })).split(':').pop()}`;
    after(async () => {
      prod.closeAllConnections();
      await new Promise<void>((r) => prod.close(() => r()));
    });
    await fetch(`${base}/metrics`).then((r) => r.text());
    const rss0 = process.memoryUsage().rss;
    for (let round = 0; round < 3; round++) {
      const bodies = await Promise.all(
        Array.from({ length: 200 }, () => fetch(`${base}/metrics`).then((r) => r.text())),
      );
      for (const b of bodies) assert.match(b, /^strongswan_up 1$/m);
    }
    await sleep(50);
    const grew = (process.memoryUsage().rss - rss0) / 1e6;
    // The 200 clients live in this process too: the bound is loose, what matters is that it is a bound.
    assert.ok(grew < 250, `rss grew ${grew.toFixed(1)} MB`);
    assert.ok(target.stats.shared > 0, 'concurrent scrapes shared queries');
  });
});

describe('systemd socket activation', () => {
  it('takes the fds systemd passes, and refuses to run without them', () => {
    assert.deepEqual(systemdFds({ LISTEN_PID: '42', LISTEN_FDS: '2' }, 42), [3, 4]);
    assert.throws(
      () => systemdFds({ LISTEN_PID: '41', LISTEN_FDS: '1' }, 42),
      /LISTEN_PID is not this process/,
    );
    assert.throws(() => systemdFds({}, 42), /no sockets from systemd/);
    assert.throws(() => systemdFds({ LISTEN_PID: '42', LISTEN_FDS: '0' }, 42), /LISTEN_FDS/);
  });
});
