import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { FakeCharon, frame } from '../../test/fake-charon/server.js';
import { ViciClient } from './client.js';
import { encodeMessage } from './codec.js';
import {
  ViciClosedError,
  ViciCommandError,
  ViciConnectError,
  ViciEncodeError,
  ViciProtocolError,
  ViciTimeoutError,
  ViciUnknownCommandError,
  ViciUnknownEventError,
} from './errors.js';
import { str, type ViciSection } from './message.js';
import { PacketType } from './packet.js';

const sa = (name: string, id: number) => ({
  name: 'list-sa',
  message: { [name]: { uniqueid: String(id), state: 'ESTABLISHED' } },
});
const registrations = (f: FakeCharon, name: string) =>
  f.log.filter(([t, n]) => t === PacketType.EVENT_REGISTER && n === name).length;

async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(10);
  }
}

for (const transport of ['unix', 'tcp'] as const) {
  describe(`ViciClient over ${transport}`, () => {
    const fake = new FakeCharon();
    let address = '';
    before(async () => {
      address = transport === 'unix' ? await fake.listenUnix() : await fake.listenTcp();
      fake
        .on('version', () => ({ response: { daemon: 'charon', version: '5.9.8' } }))
        .on('fail', () => ({ response: { success: 'no', errmsg: 'no counters found' } }))
        .on('silent', () => 'silent')
        .on('garbage', () => ({ raw: Buffer.from([0, 0, 0, 3, 1, 9, 9]) }))
        .on('list-sas', (req, conn) => {
          // A foreign event in the middle of the stream, as charon's other threads do.
          if (req.foreign)
            setImmediate(() => conn.sendEvent('ike-updown', { up: 'yes', gw: { uniqueid: '99' } }));
          const n = Number(str(req.n) ?? 3);
          return { events: Array.from({ length: n }, (_, i) => sa(`gw${i}`, i + 1)), response: {} };
        });
    });
    after(() => fake.close());

    it('runs a command', async () => {
      const c = new ViciClient({ address, timeoutMs: 2000 });
      try {
        const v = await c.command('version');
        assert.equal(str(v.daemon), 'charon');
        assert.equal(str(v.version), '5.9.8');
      } finally {
        c.close();
      }
    });

    it('maps CMD_UNKNOWN and success=no to typed errors, and keeps the connection', async () => {
      const c = new ViciClient({ address, timeoutMs: 2000 });
      try {
        await assert.rejects(c.command('no-such-command'), ViciUnknownCommandError);
        await assert.rejects(
          c.command('fail'),
          (e: unknown) => e instanceof ViciCommandError && e.errmsg === 'no counters found',
        );
        const r = await c.command('fail', undefined, { checkSuccess: false });
        assert.equal(str(r.success), 'no');
        await assert.rejects(c.command('bad\u0001name'), ViciEncodeError);
        assert.equal(c.stats.connects, 1);
      } finally {
        c.close();
      }
    });

    it('streams a listing, routes foreign events to their subscriber, registers once', async () => {
      const c = new ViciClient({ address, timeoutMs: 2000 });
      const foreign: ViciSection[] = [];
      try {
        await c.subscribe(['ike-updown'], (_n, m) => foreign.push(m));
        const before = registrations(fake, 'list-sa');
        for (let round = 0; round < 3; round++) {
          const got: string[] = [];
          const r = await c.stream(
            'list-sas',
            { n: 5, foreign: 'yes' },
            (m) => got.push(Object.keys(m)[0] as string),
            { decode: { text: true } },
          );
          assert.equal(r.count, 5);
          assert.deepEqual(got, ['gw0', 'gw1', 'gw2', 'gw3', 'gw4']);
        }
        assert.equal(registrations(fake, 'list-sa') - before, 1, 'list-sa registered once per connection');
        await until(() => foreign.length === 3);
        const first = foreign[0] as ViciSection;
        assert.equal(str((first.gw as ViciSection).uniqueid), '99');
      } finally {
        c.close();
      }
    });

    it('never mixes two concurrent listings', async () => {
      const c = new ViciClient({ address, timeoutMs: 2000 });
      try {
        const [a, b] = await Promise.all([c.list('list-sas', { n: 2 }), c.list('list-sas', { n: 4 })]);
        assert.equal(a.length, 2);
        assert.equal(b.length, 4);
      } finally {
        c.close();
      }
    });

    it('times out on a silent daemon, drops the connection, and recovers on the next call', async () => {
      const c = new ViciClient({ address, timeoutMs: 300 });
      try {
        const t0 = Date.now();
        await assert.rejects(c.command('silent'), ViciTimeoutError);
        const took = Date.now() - t0;
        assert.ok(took >= 290 && took < 1500, `took ${took} ms`);
        assert.equal(c.connected, false);
        // A call queued behind the silent one fails with the same cause instead of hanging.
        assert.equal(str((await c.command('version')).daemon), 'charon');
        assert.equal(c.stats.connects, 2);
      } finally {
        c.close();
      }
    });

    it('fails a call queued behind a timed-out one without sending it', async () => {
      const c = new ViciClient({ address, timeoutMs: 300 });
      try {
        const a = c.command('silent');
        const b = c.command('version');
        await assert.rejects(a, ViciTimeoutError);
        await assert.rejects(
          b,
          (e: unknown) => e instanceof ViciTimeoutError || e instanceof ViciClosedError,
        );
      } finally {
        c.close();
      }
    });

    it('drops the connection on garbage with ViciProtocolError', async () => {
      const c = new ViciClient({ address, timeoutMs: 1000 });
      try {
        await assert.rejects(c.command('garbage'), ViciProtocolError);
        assert.equal(c.connected, false);
        assert.equal(str((await c.command('version')).daemon), 'charon');
      } finally {
        c.close();
      }
    });

    it('reports an unknown event on subscribe and drops that subscription', async () => {
      const c = new ViciClient({ address, timeoutMs: 1000 });
      try {
        await assert.rejects(
          c.subscribe(['alert'], () => {}),
          ViciUnknownEventError,
        );
      } finally {
        c.close();
      }
    });

    it('counts a stream event nobody asked for instead of delivering it', async () => {
      const c = new ViciClient({ address, timeoutMs: 1000 });
      try {
        await c.list('list-sas', { n: 1 });
        for (const conn of fake.conns) conn.sendEvent('list-sa', { stray: { uniqueid: '1' } });
        await until(() => c.unexpectedEvents === 1);
        assert.equal((await c.list('list-sas', { n: 2 })).length, 2);
      } finally {
        c.close();
      }
    });

    it('reconnects with backoff and registers subscriptions again', async () => {
      const states: string[] = [];
      const c = new ViciClient({
        address,
        timeoutMs: 1000,
        backoffInitialMs: 50,
        onState: (s) => states.push(s),
      });
      const got: string[] = [];
      try {
        await c.subscribe(['child-updown'], (_n, m) => got.push(str(m.n) as string));
        fake.broadcast('child-updown', { n: '1' });
        await until(() => got.length === 1);
        fake.dropConnections();
        await until(() => c.connected && states.filter((s) => s === 'connected').length === 2);
        await until(() => [...fake.conns].some((k) => k.registered.get('child-updown') === 1));
        fake.broadcast('child-updown', { n: '2' });
        await until(() => got.length === 2);
        assert.deepEqual(got, ['1', '2']);
        assert.deepEqual(states, ['connected', 'disconnected', 'connected']);
        for (const k of fake.conns)
          assert.ok((k.registered.get('child-updown') ?? 0) <= 1, 'never registered twice');
      } finally {
        c.close();
      }
    });
  });
}

describe('ViciClient without a daemon', () => {
  it('fails fast with ViciConnectError', async () => {
    const c = new ViciClient({ address: '/nonexistent/dir/charon.vici', timeoutMs: 1000 });
    await assert.rejects(c.command('version'), ViciConnectError);
    c.close();
  });

  it('treats an EOF in the middle of a listing as ViciClosedError', async () => {
    const fake = new FakeCharon();
    const address = await fake.listenUnix();
    fake.on('list-sas', (_r, conn) => {
      conn.sendEvent('list-sa', { gw: { uniqueid: '1' } });
      setTimeout(() => conn.socket.destroy(), 20);
      return 'silent';
    });
    const c = new ViciClient({ address, timeoutMs: 2000 });
    try {
      const got: ViciSection[] = [];
      await assert.rejects(
        c.stream('list-sas', {}, (m) => got.push(m)),
        ViciClosedError,
      );
      assert.equal(got.length, 1);
    } finally {
      c.close();
      await fake.close();
    }
  });

  it('rejects a reply frame announcing 2 GiB without allocating it', async () => {
    const fake = new FakeCharon();
    const address = await fake.listenUnix();
    fake.on('version', () => ({ raw: Buffer.from([0x80, 0, 0, 0, 1]) }));
    const c = new ViciClient({ address, timeoutMs: 2000 });
    try {
      await assert.rejects(c.command('version'), ViciProtocolError);
    } finally {
      c.close();
      await fake.close();
    }
  });

  it('handles replies split into single bytes', async () => {
    const fake = new FakeCharon();
    const address = await fake.listenUnix();
    fake.on('version', (_r, conn) => {
      const f = frame(PacketType.CMD_RESPONSE, undefined, Buffer.from([3, 1, 0x61, 0, 1, 0x62]));
      let i = 0;
      const t = setInterval(() => {
        conn.socket.write(f.subarray(i, i + 1));
        if (++i >= f.length) clearInterval(t);
      }, 1);
      return 'silent';
    });
    const c = new ViciClient({ address, timeoutMs: 2000 });
    try {
      assert.equal(str((await c.command('version')).a), 'b');
    } finally {
      c.close();
      await fake.close();
    }
  });
});

describe('ViciClient subscriptions', () => {
  it('delivers an event that arrives in the same read as the confirmation of its registration', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sswe-confirm-'));
    const sock = path.join(dir, 'charon.vici');
    // A daemon that answers the registration with its confirmation and an event in one write.
    const server = net.createServer((s) => {
      s.on('error', () => {});
      s.once('data', () =>
        s.write(
          Buffer.concat([
            frame(PacketType.EVENT_CONFIRM),
            frame(PacketType.EVENT, 'child-updown', encodeMessage({ n: '1' })),
          ]),
        ),
      );
    });
    await new Promise<void>((r) => server.listen(sock, r));
    const c = new ViciClient({ address: `unix://${sock}`, timeoutMs: 2000 });
    try {
      const got: string[] = [];
      await c.subscribe(['child-updown'], (_n, m) => got.push(str(m.n) as string));
      await until(() => got.length === 1, 1000);
      assert.deepEqual(got, ['1']);
    } finally {
      c.close();
      await new Promise<void>((r) => server.close(() => r()));
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('ViciClient stream backpressure', () => {
  it('reads nothing more while a handler holds the listing back, then delivers the rest in order', async () => {
    const fake = new FakeCharon();
    const address = await fake.listenUnix();
    // The first message, then the others 100 ms later (in a read of their own).
    fake.on('list-sas', async (_r, conn) => {
      conn.sendEvent('list-sa', sa('gw0', 1).message);
      await sleep(100);
      return { events: [1, 2, 3].map((i) => sa(`gw${i}`, i + 1)), response: {} };
    });
    const c = new ViciClient({ address, timeoutMs: 5000 });
    try {
      const got: [string, number][] = [];
      const t0 = performance.now();
      const r = await c.stream('list-sas', {}, (m) => {
        got.push([Object.keys(m)[0] as string, performance.now() - t0]);
        // Hold the listing back for 400 ms after the first message.
        return got.length === 1 ? sleep(400) : undefined;
      });
      assert.equal(r.count, 4);
      assert.deepEqual(
        got.map(([n]) => n),
        ['gw0', 'gw1', 'gw2', 'gw3'],
      );
      const [, first] = got[0] as [string, number];
      const [, second] = got[1] as [string, number];
      assert.ok(second - first >= 390, `the second message came ${second - first} ms after the first`);
    } finally {
      c.close();
      await fake.close();
    }
  });
});

describe('ViciClient.reconnectNow', () => {
  it('reconnects the subscriptions at once instead of waiting out the backoff', async () => {
    const fake = new FakeCharon();
    const address = await fake.listenUnix();
    // A backoff far longer than the test: only reconnectNow can bring the subscription back in time.
    const c = new ViciClient({ address, timeoutMs: 2000, backoffInitialMs: 60_000, backoffMaxMs: 60_000 });
    const got: string[] = [];
    try {
      await c.subscribe(['ike-updown'], (_n, m) => got.push(str(m.n) as string));
      fake.dropConnections();
      await until(() => !c.connected);
      await sleep(100);
      assert.equal(c.connected, false, 'still waiting out the backoff');
      const t0 = Date.now();
      await c.reconnectNow();
      assert.ok(c.connected);
      assert.ok(Date.now() - t0 < 1000, `reconnected in ${Date.now() - t0} ms`);
      await until(() => [...fake.conns].some((k) => k.registered.get('ike-updown') === 1));
      fake.broadcast('ike-updown', { n: '1' });
      await until(() => got.length === 1);
      // Connected already, or nothing subscribed: nothing to do.
      await c.reconnectNow();
      assert.equal(fake.conns.size, 1, 'no second connection');
    } finally {
      c.close();
      await fake.close();
    }
  });

  it('keeps a subscription whose registration timed out, and registers it on a new connection', async () => {
    const fake = new FakeCharon();
    const address = await fake.listenUnix();
    const c = new ViciClient({ address, timeoutMs: 300, backoffInitialMs: 50 });
    const got: string[] = [];
    try {
      fake.silentRegistrations = 1;
      await assert.rejects(
        c.subscribe(['child-updown'], (_n, m) => got.push(str(m.n) as string)),
        ViciTimeoutError,
      );
      await until(() => [...fake.conns].some((k) => k.registered.get('child-updown') === 1));
      fake.broadcast('child-updown', { n: '1' });
      await until(() => got.length === 1);
    } finally {
      c.close();
      await fake.close();
    }
  });

  it('backs off again from the start when the daemon is still away', async () => {
    const fake = new FakeCharon();
    const address = await fake.listenUnix();
    const states: string[] = [];
    const c = new ViciClient({
      address,
      timeoutMs: 500,
      backoffInitialMs: 60_000,
      onState: (s) => states.push(s),
    });
    try {
      await c.subscribe(['ike-updown'], () => {});
      await fake.close();
      await until(() => !c.connected);
      await assert.rejects(c.reconnectNow(), ViciConnectError);
      assert.equal(c.connected, false);
      assert.deepEqual(states, ['connected', 'disconnected']);
    } finally {
      c.close();
    }
  });
});
