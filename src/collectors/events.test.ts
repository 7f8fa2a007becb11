import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { FakeCharon } from '../../test/fake-charon/server.js';
import { select, value } from '../../test/helpers/exposition.js';
import { quietLog, scrapeFake, success, VERSION_REPLY } from '../../test/helpers/scrape.js';
import {
  decodeMessage,
  encodeMessage,
  type ViciClient,
  type ViciInput,
  type ViciSection,
} from '../vici/index.js';
import { PacketType } from '../vici/packet.js';
import type { Collector } from './collector.js';
import { EventState, events } from './events.js';

const sec = (m: ViciInput): ViciSection => decodeMessage(encodeMessage(m));
const child = (id: number, spi: string, bytes: number, packets = Math.floor(bytes / 100)) => ({
  name: 'net',
  uniqueid: String(id),
  'spi-in': `${spi}01`,
  'spi-out': `${spi}02`,
  state: 'INSTALLED',
  'bytes-in': String(bytes),
  'bytes-out': String(bytes * 2),
  'packets-in': String(packets),
  'packets-out': String(packets * 2),
});

/** One scrape that lists the given CHILD SAs of conn `gw`; returns bytes-in of gw/net. */
function scrape(st: EventState, children: ReturnType<typeof child>[]): number {
  st.beginScrape();
  for (const c of children) st.onListed('gw', 'net', sec(c));
  st.endScrape(true);
  return st.reported('gw', 'net')?.[0] ?? 0;
}

describe('EventState: a state that begins after the SAs (an exporter restarted)', () => {
  const T0 = 1_800_000_000_000;
  /** A CHILD SA installed `ago` seconds before the clock's now. */
  const aged = (id: number, spi: string, bytes: number, ago: number) => ({
    ...child(id, spi, bytes),
    'install-time': String(ago),
  });

  it('does not add what an SA passed before the state began: it restarts from 0', () => {
    let now = T0;
    const st = new EventState({ since: T0, now: () => now });
    // 365,000 bytes passed before this process; the earlier one reported them
    assert.equal(scrape(st, [aged(1, 'aa', 365_000, 600)]), 0);
    now += 15_000;
    assert.equal(scrape(st, [aged(1, 'aa', 365_700, 615)]), 700);
    // ... and its end (down) adds only what it passed since
    st.onEvent(
      'child-updown',
      sec({ gw: { uniqueid: '1', 'child-sas': { 'net-1': aged(1, 'aa', 366_000, 620) } } }),
    );
    assert.equal(scrape(st, []), 1000);
    assert.deepEqual(st.reported('gw', 'net'), [1000, 2000, 10, 20]);
  });

  it('adds all of an SA installed after the state began, also when first seen a scrape later', () => {
    let now = T0;
    const st = new EventState({ since: T0, now: () => now });
    assert.equal(scrape(st, []), 0);
    now += 30_000;
    // installed 10 s after the state began
    assert.equal(scrape(st, [aged(2, 'bb', 4_000, 20)]), 4_000);
  });

  it('never counts twice an SA that may have been installed before the state began', () => {
    const now = T0 + 5_000;
    const st = new EventState({ since: T0, now: () => now });
    // install-time is whole seconds: 5 s ago is 5.0 to 5.99 s ago, maybe before T0: from 0
    assert.equal(scrape(st, [aged(3, 'cc', 900, 5)]), 0);
    // 4 s ago is 4.0 to 4.99 s ago: after T0, all of it counts
    assert.equal(scrape(st, [aged(3, 'cc', 950, 5), aged(4, 'dd', 300, 4)]), 350);
  });

  it('a rekey of an SA older than the state credits only its traffic since', () => {
    let now = T0 + 2_000;
    const st = new EventState({ since: T0, now: () => now });
    // first sight is the rekey event itself: the old half's 50,000 bytes were an earlier process's
    st.onEvent(
      'child-rekey',
      sec({
        gw: {
          uniqueid: '1',
          'child-sas': { net: { old: aged(1, 'aa', 50_000, 3000), new: aged(2, 'bb', 0, 0) } },
        },
      }),
    );
    now += 5_000;
    assert.equal(scrape(st, [aged(2, 'bb', 600, 5)]), 600);
    assert.equal(st.childEvents('gw', 'net', 'rekey'), 1);
  });
});

describe('EventState: traffic per child config', () => {
  it('keeps rising across a rekey while the per-SA counter restarts at 0', () => {
    const st = new EventState();
    assert.equal(scrape(st, [child(1, 'aa', 1000)]), 1000);
    // rekey at 1500 bytes: the old SA lingers for a while and still passes a little traffic
    st.onEvent(
      'child-rekey',
      sec({
        gw: { uniqueid: '1', 'child-sas': { net: { old: child(1, 'aa', 1500), new: child(2, 'bb', 0) } } },
      }),
    );
    assert.equal(scrape(st, [child(1, 'aa', 1600), child(2, 'bb', 300)]), 1900);
    assert.equal(scrape(st, [child(2, 'bb', 800)]), 2400);
    assert.deepEqual(st.childEvents('gw', 'net', 'rekey'), 1);
  });

  it('counts a tunnel flap once: down with final counters, then a new SA from 0', () => {
    const st = new EventState();
    assert.equal(scrape(st, [child(1, 'aa', 500)]), 500);
    st.onEvent('child-updown', sec({ gw: { uniqueid: '1', 'child-sas': { 'net-1': child(1, 'aa', 700) } } }));
    st.onEvent('ike-updown', sec({ gw: { uniqueid: '1' } }));
    st.onEvent('ike-updown', sec({ up: 'yes', gw: { uniqueid: '2' } }));
    st.onEvent(
      'child-updown',
      sec({ up: 'yes', gw: { uniqueid: '2', 'child-sas': { 'net-2': child(2, 'cc', 0) } } }),
    );
    assert.equal(scrape(st, [child(2, 'cc', 50)]), 750);
    assert.equal(st.ikeEvents('gw', 'down'), 1);
    assert.equal(st.ikeEvents('gw', 'up'), 1);
    assert.equal(st.childEvents('gw', 'net', 'down'), 1);
    assert.equal(st.childEvents('gw', 'net', 'up'), 1);
  });

  it('credits an SA that vanished unseen with what the last scrape saw, and a restarted daemon reusing ids', () => {
    const st = new EventState();
    assert.equal(scrape(st, [child(1, 'aa', 400)]), 400);
    // the daemon restarted while our subscription was down: the same unique id, new SPIs
    assert.equal(scrape(st, [child(1, 'dd', 10)]), 410);
    assert.equal(scrape(st, [child(1, 'dd', 90)]), 490);
  });

  it('does not double count an SA that a non-blocking listing skipped once', () => {
    const st = new EventState();
    assert.equal(scrape(st, [child(1, 'aa', 100)]), 100);
    assert.equal(scrape(st, []), 100);
    assert.equal(scrape(st, [child(1, 'aa', 250)]), 250);
  });

  it('does not double count a down event that arrives in the middle of a listing', () => {
    const st = new EventState();
    st.beginScrape();
    st.onListed('gw', 'net', sec(child(1, 'aa', 300)));
    st.onEvent('child-updown', sec({ gw: { uniqueid: '1', 'child-sas': { 'net-1': child(1, 'aa', 320) } } }));
    st.endScrape(true);
    assert.equal(st.reported('gw', 'net')?.[0], 320);
  });

  it('never goes backwards, also when the daemon is away', () => {
    const st = new EventState();
    assert.equal(scrape(st, [child(1, 'aa', 100)]), 100);
    st.beginScrape();
    st.endScrape(false);
    assert.equal(st.reported('gw', 'net')?.[0], 100);
    assert.equal(scrape(st, [child(2, 'bb', 5)]), 105);
  });

  it('forgets SAs gone for a while and reuses their rows, the totals staying exact', () => {
    const st = new EventState();
    let want = 0;
    // 30 generations of 3 CHILD SAs each: listed in two scrapes, then gone without an event.
    for (let g = 0; g < 30; g++) {
      const sas = [0, 1, 2].map((k) => (bytes: number) => child(100 * g + k, `g${g}k${k}`, bytes));
      scrape(
        st,
        sas.map((sa, k) => sa(10 * k + g)),
      );
      const got = scrape(
        st,
        sas.map((sa, k) => sa(20 * k + g + 1)),
      );
      want += [0, 1, 2].reduce((n, k) => n + 20 * k + g + 1, 0);
      assert.equal(got, want, `generation ${g}`);
    }
    for (let i = 0; i < 8; i++) assert.equal(scrape(st, []), want, 'vanished SAs credited once');
    const rows = st.saRows();
    assert.equal(rows.used, 0, 'all forgotten');
    assert.ok(rows.all <= 3 * 8, `${rows.all} rows for 90 SAs: rows of forgotten SAs reused`);
  });

  it('counts an IKE SA that never got established as a failed attempt, not as a down', async () => {
    /** The events of a real capture (strongSwan 6.1.0, scripts/lab.sh rw-fail: test/fixtures/strongswan6). */
    const events = (f: string): ViciInput[] =>
      (
        JSON.parse(fs.readFileSync(path.join('test/fixtures/strongswan6', f), 'utf8')) as {
          data: { msg: ViciInput }[];
        }
      ).data.map((e) => e.msg);
    const st = new EventState();
    st.known('rw', ['rw']);
    // gw1 refusing a wrong EAP secret (under rw) and rejecting a proposal (no connection chosen yet:
    // "(unnamed)"); the initiator's side of both (under rw)
    for (const m of events('6.1.0-gw1-ike-updown-never-established.json')) st.onEvent('ike-updown', sec(m));
    for (const m of events('6.1.0-u2-ike-updown-never-established.json')) st.onEvent('ike-updown', sec(m));
    assert.equal(st.ikeEvents('rw', 'down'), 0);
    assert.equal(st.ikeEvents('rw', 'up'), 0);
    assert.equal(st.failures('rw'), 3);
    assert.equal(st.failures(''), 1);
    assert.equal(st.failures('(unnamed)'), undefined, 'no made-up connection');
    // an SA that was up still counts as a down
    st.onEvent(
      'ike-updown',
      sec({ up: 'yes', rw: { uniqueid: '40', state: 'ESTABLISHED', established: '1' } }),
    );
    st.onEvent('ike-updown', sec({ rw: { uniqueid: '40', state: 'DELETING', established: '9' } }));
    assert.equal(st.ikeEvents('rw', 'up'), 1);
    assert.equal(st.ikeEvents('rw', 'down'), 1);
    // a half-open SA in a listing is not up (and no row is kept for it)
    st.beginScrape(true);
    assert.equal(st.onListedIke('rw', sec({ uniqueid: '41', state: 'CONNECTING' })), -1);
    st.endScrape(true);
    assert.equal(st.ikeEvents('rw', 'up'), 1);
  });

  it('counts alerts by type and by the configured connection they name, and initialises configured connections at 0', () => {
    const st = new EventState();
    st.onEvent('alert', sec({ type: 'peer-auth-failed' }));
    st.onEvent('alert', sec({ type: 'peer-auth-failed' }));
    assert.equal(st.alerts.get('')?.get('peer-auth-failed')?.value, 2);
    const about = (name: string, type: string) =>
      sec({ type, 'ike-sa': { [name]: { uniqueid: '7', state: 'CONNECTING' } } });
    // under the connection charon chose, also one loaded since the last list-conns; never "(unnamed)"
    st.onEvent('alert', about('rw', 'peer-auth-failed'));
    st.known('rw', ['rw']);
    st.onEvent('alert', about('rw', 'peer-auth-failed'));
    st.onEvent('alert', about('(unnamed)', 'proposal-mismatch-ike'));
    assert.equal(st.alerts.get('')?.get('peer-auth-failed')?.value, 2);
    assert.equal(st.alerts.get('rw')?.get('peer-auth-failed')?.value, 2);
    assert.equal(st.alerts.get('')?.get('proposal-mismatch-ike')?.value, 1);
    assert.equal(st.alerts.has('(unnamed)'), false);
    st.known('site', ['net1', 'net2']);
    st.known('lone', []);
    assert.equal(st.ikeEvents('site', 'rekey'), 0);
    assert.equal(st.ikeEvents('lone', 'up'), 0);
    assert.equal(st.childEvents('site', 'net1', 'up'), 0);
    assert.equal(st.childEvents('site', 'net2', 'down'), 0);
    assert.equal(st.childEvents('lone', 'net1', 'up'), undefined);
    assert.equal(st.childEvents('site', 'net3', 'up'), undefined);
    st.beginScrape();
    st.endScrape(true);
    assert.deepEqual(st.reported('site', 'net1'), [0, 0, 0, 0]);
  });
});

describe('events collector: the subscription', () => {
  it('reconnects as soon as a scrape reaches the daemon, not after its backoff', async () => {
    const fake = new FakeCharon();
    await fake.listenUnix();
    fake
      .on('version', () => ({ response: VERSION_REPLY }))
      .on('list-sas', () => ({ response: {} }))
      .on('list-conns', () => ({ response: {} }));
    const ev = events.attach?.({ address: fake.address, timeoutMs: 2000, log: quietLog }) as Collector & {
      detach(): void;
      client: ViciClient;
    };
    const registered = () =>
      [...fake.conns].some(
        (k) => k.registered.get('ike-updown') === 1 && k.registered.get('child-updown') === 1,
      );
    try {
      for (let i = 0; !(ev.client.connected && registered()); i++) {
        assert.ok(i < 300, 'subscribed at start');
        await sleep(10);
      }
      // The daemon drops the subscription (a restart, say): the client waits out its backoff (>= 400 ms).
      fake.dropConnections();
      for (let i = 0; ev.client.connected; i++) {
        assert.ok(i < 300, 'the drop is noticed');
        await sleep(10);
      }
      const t0 = Date.now();
      const { p } = await scrapeFake(fake, [ev]);
      assert.ok(Date.now() - t0 < 400, 'the scrape did not wait for the backoff');
      assert.equal(value(p, 'strongswan_exporter_events_connected'), 1, 'connected again in this scrape');
      for (let i = 0; !registered(); i++) {
        assert.ok(i < 100, 'registered again');
        await sleep(10);
      }
      fake.broadcast('ike-updown', { up: 'yes', gw: { uniqueid: '7' } });
      let counted = 0;
      for (let i = 0; counted !== 1; i++) {
        assert.ok(i < 100, 'the event is counted');
        if (i > 0) await sleep(10);
        const q = (await scrapeFake(fake, [ev])).p;
        counted = select(q, 'strongswan_ike_sa_events_total', { conn: 'gw', event: 'up' })[0]?.value ?? 0;
      }
    } finally {
      ev.detach();
      await fake.close();
    }
  });
});

describe('events collector: a failed listing', () => {
  it('keeps its series (as they stood, never lower) in the scrape that reports the failure', async () => {
    const fake = new FakeCharon();
    await fake.listenUnix();
    let failing = false;
    const listed = {
      gw: { uniqueid: '1', state: 'ESTABLISHED', 'child-sas': { 'net-1': child(1, 'c1', 5000) } },
    };
    fake
      .on('version', () => ({ response: VERSION_REPLY }))
      .on('list-sas', () =>
        failing
          ? { response: { success: 'no', errmsg: 'busy' } }
          : { events: [{ name: 'list-sa', message: listed }], response: {} },
      )
      .on('list-conns', () => ({ response: {} }));
    const ev = events.attach?.({ address: fake.address, timeoutMs: 2000, log: quietLog }) as Collector & {
      detach(): void;
    };
    try {
      const bytesIn = (q: Parameters<typeof select>[0]) =>
        select(q, 'strongswan_conn_child_bytes_total', { conn: 'gw', child: 'net', direction: 'in' })[0]
          ?.value;
      const ok = (await scrapeFake(fake, [ev])).p;
      assert.equal(success(ok, 'events'), 1);
      assert.equal(bytesIn(ok), 5000);
      failing = true;
      const failed = (await scrapeFake(fake, [ev])).p;
      assert.equal(success(failed, 'events'), 0, 'the failure is reported');
      assert.equal(bytesIn(failed), 5000, 'the series is still there, not lower');
      assert.equal(select(failed, 'strongswan_exporter_events_connected').length, 1);
    } finally {
      ev.detach();
      await fake.close();
    }
  });
});

/** One scrape that lists CHILD SA 2 of busy() and another SA. */
function st9(st: EventState, other: ViciInput): void {
  st.beginScrape();
  st.onListed('gw', 'net', sec(child(2, 'bb', 300)));
  st.onListed('gw', 'net', sec(other));
  st.endScrape(true);
}

describe('EventState: snapshot and restore (the state file)', () => {
  /** A state with events, a rekeyed SA, a live SA older than the state and alerts. */
  function busy(): EventState {
    const st = new EventState();
    scrape(st, [child(1, 'aa', 1000)]);
    st.onEvent(
      'child-rekey',
      sec({
        gw: { uniqueid: '1', 'child-sas': { net: { old: child(1, 'aa', 1500), new: child(2, 'bb', 0) } } },
      }),
    );
    st.onEvent('ike-updown', sec({ up: 'yes', gw: { uniqueid: '7' } }));
    st.onEvent('alert', sec({ type: 'peer-auth-failed' }));
    scrape(st, [child(1, 'aa', 1600), child(2, 'bb', 300)]);
    st.known('idle', ['none']);
    return st;
  }

  it('continues exactly where the saved state was, as if it had never stopped', () => {
    const a = busy();
    const b = EventState.restore(JSON.parse(JSON.stringify(a.snapshot())));
    assert.deepEqual(b.snapshot(), a.snapshot());
    for (const st of [a, b]) {
      assert.equal(scrape(st, [child(2, 'bb', 800)]), 2400);
      assert.equal(st.childEvents('gw', 'net', 'rekey'), 1);
      assert.equal(st.ikeEvents('gw', 'up'), 1);
      assert.deepEqual(st.reported('idle', 'none'), [0, 0, 0, 0]);
    }
    assert.equal(b.alerts.get('')?.get('peer-auth-failed')?.value, 1);
  });

  it('counts an SA that is not in the saved state from 0, however old it is', () => {
    const b = EventState.restore(busy().snapshot(), { now: () => Date.now() });
    // installed an hour ago, but never counted by the process that saved the state
    const old = { ...child(9, 'ee', 5000), 'install-time': '3600' };
    st9(b, old);
    assert.equal(b.reported('gw', 'net')?.[0], 6900);
  });

  it('refuses a snapshot that does not hold together, whatever part is off', () => {
    const good = () => JSON.parse(JSON.stringify(busy().snapshot()));
    // biome-ignore lint/suspicious/noExplicitAny: the test takes a snapshot apart at will
    const breakers: [string, (s: Record<string, any>) => void][] = [
      ['conns missing', (s) => delete s.conns],
      ['conns not an object', (s) => (s.conns = [])],
      ['negative event count', (s) => (s.conns.gw[0] = -1)],
      ['three counts where four belong', (s) => s.conns.gw.pop()],
      ['child row without names', (s) => (s.children[0][0] = 5)],
      ['reported not finite', (s) => (s.children[0][4][0] = null)],
      ['SA of a child that is not there', (s) => (s.sas[0][3] = 99)],
      ['SA retired neither 0 nor 1', (s) => (s.sas[0][6] = 2)],
      ['SA id twice', (s) => s.sas.push(s.sas[0])],
      ['SA SPI not an integer', (s) => (s.sas[0][1] = 'aa01')],
      ['alert not a count', (s) => (s.alerts[0][2] = '1')],
      ['alert without its connection', (s) => (s.alerts[0] = ['peer-auth-failed', 1])],
    ];
    for (const [what, breakIt] of breakers) {
      const s = good();
      breakIt(s);
      assert.throws(() => EventState.restore(s), Error, what);
    }
    assert.doesNotThrow(() => EventState.restore(good()));
  });
});

describe('EventState: events right after the state began', () => {
  it('count, even for SAs made within the second that counts as before the state', () => {
    const T0 = 1_800_000_000_000;
    const st = new EventState({ since: T0, now: () => T0 + 500 });
    const fresh = { ...child(2, 'bb', 0), 'install-time': '0' };
    st.onEvent(
      'child-rekey',
      sec({ gw: { uniqueid: '1', 'child-sas': { net: { old: child(1, 'aa', 10), new: fresh } } } }),
    );
    st.onEvent('ike-updown', sec({ up: 'yes', gw: { uniqueid: '3', established: '0' } }));
    assert.equal(st.childEvents('gw', 'net', 'rekey'), 1);
    assert.equal(st.ikeEvents('gw', 'up'), 1);
  });
});

describe('EventState: reconciled from the listings when the events were away', () => {
  type Ike = { id: number; spi: string; children: ReturnType<typeof child>[] };
  const ikeOf = (k: Ike) => ({
    uniqueid: String(k.id),
    'initiator-spi': `${k.spi}00000000${k.spi}`,
    state: 'ESTABLISHED',
  });
  /** One scrape listing these IKE SAs of `gw` and their CHILD SAs; `reconcile` as the collector says. */
  function list(st: EventState, reconcile: boolean, ikes: Ike[]): void {
    st.beginScrape(reconcile);
    for (const k of ikes) {
      const r = st.onListedIke('gw', sec(ikeOf(k)));
      for (const c of k.children) st.onListed('gw', 'net', sec(c), r);
    }
    st.endScrape(true);
  }
  const events = (st: EventState) => ({
    ike: (['up', 'down', 'rekey'] as const).map((e) => st.ikeEvents('gw', e) ?? 0),
    child: (['up', 'down', 'rekey'] as const).map((e) => st.childEvents('gw', 'net', e) ?? 0),
  });
  const up = (k: Ike) => sec({ up: 'yes', gw: ikeOf(k) });
  const childUp = (k: Ike, c: ReturnType<typeof child>) =>
    sec({ up: 'yes', gw: { ...ikeOf(k), 'child-sas': { 'net-1': c } } });
  const A: Ike = { id: 1, spi: 'a1', children: [child(1, 'aa', 100)] };

  it('counts nothing from the first listing, nor from listings while the events are there', () => {
    const st = new EventState();
    list(st, true, [A]); // where counting starts, whatever the collector says
    const B: Ike = { id: 2, spi: 'b2', children: [child(2, 'bb', 10)] };
    list(st, false, [A, B]); // B's up events are on their way ...
    list(st, false, [A]); // ... and so are its downs
    assert.deepEqual(events(st), { ike: [0, 0, 0], child: [0, 0, 0] });
    st.onEvent('ike-updown', sec({ up: 'no', gw: ikeOf(B) }));
    st.onEvent(
      'child-updown',
      sec({ up: 'no', gw: { ...ikeOf(B), 'child-sas': { 'net-2': B.children[0] } } }),
    );
    list(st, true, [A]); // a gap later counts them no second time
    list(st, true, [A]);
    assert.deepEqual(events(st), { ike: [0, 1, 0], child: [0, 1, 0] });
  });

  it('a tunnel that came up in the gap: up once, whether its events come too or not', () => {
    const B: Ike = { id: 2, spi: 'b2', children: [child(2, 'bb', 10)] };
    for (const order of ['none', 'after', 'before'] as const) {
      const st = new EventState();
      list(st, false, [A]);
      if (order === 'before') {
        st.onEvent('ike-updown', up(B));
        st.onEvent('child-updown', childUp(B, child(2, 'bb', 0)));
      }
      list(st, true, [A, B]);
      if (order === 'after') {
        st.onEvent('ike-updown', up(B));
        st.onEvent('child-updown', childUp(B, child(2, 'bb', 0)));
      }
      list(st, false, [A, B]);
      assert.deepEqual(events(st), { ike: [1, 0, 0], child: [1, 0, 0] }, order);
    }
  });

  it('a tunnel that went down in the gap: down once, and only when the next listing lacks it too', () => {
    const st = new EventState();
    list(st, false, [A]);
    list(st, true, []);
    assert.deepEqual(events(st), { ike: [0, 0, 0], child: [0, 0, 0] }, 'maybe skipped as busy');
    list(st, false, []);
    assert.deepEqual(events(st), { ike: [0, 1, 0], child: [0, 1, 0] });
    // its down event, late: not counted again
    st.onEvent('ike-updown', sec({ up: 'no', gw: ikeOf(A) }));
    st.onEvent(
      'child-updown',
      sec({ up: 'no', gw: { ...ikeOf(A), 'child-sas': { 'net-1': A.children[0] } } }),
    );
    list(st, false, []);
    assert.deepEqual(events(st), { ike: [0, 1, 0], child: [0, 1, 0] });
  });

  it('an SA that a reconciling listing skipped (busy) and the next one lists is not a down', () => {
    const st = new EventState();
    list(st, false, [A]);
    list(st, true, []);
    list(st, false, [A]);
    list(st, false, [A]);
    assert.deepEqual(events(st), { ike: [0, 0, 0], child: [0, 0, 0] });
  });

  it('a CHILD SA rekeyed in the gap: a rekey (not an up and a down), once with its event', () => {
    for (const late of [false, true]) {
      const st = new EventState();
      list(st, false, [A]);
      const rekeyed: Ike = { ...A, children: [child(5, 'ee', 7)] };
      list(st, true, [rekeyed]);
      if (late)
        st.onEvent(
          'child-rekey',
          sec({ gw: { ...ikeOf(A), 'child-sas': { net: { old: A.children[0], new: child(5, 'ee', 0) } } } }),
        );
      list(st, true, [rekeyed]);
      assert.deepEqual(events(st), { ike: [0, 0, 0], child: [0, 0, 1] }, `late event: ${late}`);
    }
  });

  it('an IKE SA rekeyed in the gap (its CHILD SAs moved to a new one): an IKE rekey', () => {
    const st = new EventState();
    list(st, false, [A]);
    list(st, true, [{ id: 3, spi: 'c3', children: A.children }]);
    list(st, false, [{ id: 3, spi: 'c3', children: A.children }]);
    assert.deepEqual(events(st), { ike: [0, 0, 1], child: [0, 0, 0] });
  });

  it('a daemon restart in the gap: its ids used again by new SAs, downs and ups', () => {
    const st = new EventState();
    list(st, false, [A]);
    // the same ids, other SPIs: the old SAs are gone for certain, at once
    const again: Ike = { id: 1, spi: 'f1', children: [child(1, 'ff', 3)] };
    list(st, true, [again]);
    assert.deepEqual(events(st), { ike: [1, 1, 0], child: [1, 1, 0] });
    st.onEvent('ike-updown', up(again)); // its event, late
    list(st, false, [again]);
    assert.deepEqual(events(st), { ike: [1, 1, 0], child: [1, 1, 0] });
  });

  it('a restored state counts what happened while no exporter ran', () => {
    const st = new EventState();
    list(st, false, [A]);
    const B: Ike = { id: 2, spi: 'b2', children: [child(2, 'bb', 10)] };
    const back = EventState.restore(JSON.parse(JSON.stringify(st.snapshot())));
    list(back, true, [B]); // A went, B came while the exporter was away
    list(back, false, [B]);
    assert.deepEqual(events(back), { ike: [1, 1, 0], child: [1, 1, 0] });
  });
});

describe('events collector: reconciling after the subscription was away', () => {
  it('counts from the listing what happened meanwhile, and its late event not again', async () => {
    const fake = new FakeCharon();
    await fake.listenUnix();
    const ike = (id: number) => ({
      uniqueid: String(id),
      'initiator-spi': `00000000000000${id}${id}`,
      state: 'ESTABLISHED',
      'child-sas': { [`net-${id}`]: child(id, `c${id}`, 100) },
    });
    let listed = [1];
    fake
      .on('version', () => ({ response: VERSION_REPLY }))
      .on('list-sas', () => ({
        events: listed.map((id) => ({ name: 'list-sa', message: { gw: ike(id) } })),
        response: {},
      }))
      .on('list-conns', () => ({ response: {} }));
    const ev = events.attach?.({ address: fake.address, timeoutMs: 2000, log: quietLog }) as Collector & {
      detach(): void;
      client: ViciClient;
    };
    const registered = () => [...fake.conns].some((k) => k.registered.get('child-updown') === 1);
    const ups = async () => {
      const { p } = await scrapeFake(fake, [ev]);
      return [
        value(p, 'strongswan_ike_sa_events_total', { conn: 'gw', event: 'up' }),
        value(p, 'strongswan_child_sa_events_total', { conn: 'gw', child: 'net', event: 'up' }),
      ];
    };
    try {
      for (let i = 0; !(ev.client.connected && registered()); i++) {
        assert.ok(i < 300, 'subscribed at start');
        await sleep(10);
      }
      await sleep(50);
      assert.deepEqual(await ups(), [0, 0], 'the first listing is where counting starts');
      listed = [1, 2];
      assert.deepEqual(await ups(), [0, 0], 'subscribed all along: the events count (none came)');
      // listed twice while subscribed: had it an up event, it would have come by now
      assert.deepEqual(await ups(), [0, 0]);
      fake.dropConnections();
      for (let i = 0; ev.client.connected; i++) {
        assert.ok(i < 300, 'the drop is noticed');
        await sleep(10);
      }
      listed = [1, 2, 3];
      assert.deepEqual(await ups(), [1, 1], 'SA 3 came up while the subscription was away');
      for (let i = 0; !registered(); i++) {
        assert.ok(i < 300, 'registered again');
        await sleep(10);
      }
      await sleep(50);
      fake.broadcast('ike-updown', { up: 'yes', gw: ike(3) });
      fake.broadcast('ike-updown', { up: 'yes', gw: ike(4) });
      await sleep(50);
      assert.deepEqual((await ups())[0], 2, "SA 3's late event not counted again, SA 4's counted");
    } finally {
      ev.detach();
      await fake.close();
    }
  });
});

/** A fake charon with a start time (for the state file) that lists these IKE SAs. */
async function daemonOfOneRun(listed: ViciInput[]): Promise<FakeCharon> {
  const fake = new FakeCharon();
  await fake.listenUnix();
  fake
    .on('version', () => ({ response: VERSION_REPLY }))
    .on('stats', () => ({ response: { uptime: { since: 'Dec  7 02:00:00 2026' } } }))
    .on('list-sas', () => ({ events: listed.map((message) => ({ name: 'list-sa', message })), response: {} }))
    .on('list-conns', () => ({ response: {} }));
  return fake;
}

describe('events collector: shutdown with a state file while charon is away', () => {
  it('writes the state as of the last scrape at once, without waiting out the timeout (a hung daemon)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'events-detach-'));
    const fake = await daemonOfOneRun([]);
    const file = path.join(dir, 'metrics.events.json');
    const servers: net.Server[] = [];
    const ev = events.attach?.({
      address: fake.address,
      timeoutMs: 3000,
      log: quietLog,
      stateFile: file,
    }) as Collector & {
      detach(): Promise<void>;
      client: ViciClient;
    };
    try {
      for (let i = 0; !ev.client.connected; i++) {
        assert.ok(i < 300, 'subscribed at start');
        await sleep(10);
      }
      await scrapeFake(fake, [ev]); // decides on the (missing) state file
      await fake.close();
      for (let i = 0; ev.client.connected; i++) {
        assert.ok(i < 300, 'the loss is noticed');
        await sleep(10);
      }
      // A daemon that accepts connections and never answers (hung) takes the socket's place.
      const sock = fake.address.replace(/^unix:\/\//, '');
      fs.mkdirSync(path.dirname(sock), { recursive: true });
      const hung = net.createServer(() => {});
      await new Promise<void>((r) => hung.listen(sock, r));
      servers.push(hung);
      for (let i = 0; !ev.client.connected; i++) {
        assert.ok(i < 300, 'connected to it');
        await sleep(10);
      }
      const t0 = Date.now();
      await ev.detach();
      assert.ok(Date.now() - t0 < 1000, `detach took ${Date.now() - t0} ms`);
      assert.ok(fs.existsSync(file), 'the state file is written');
    } finally {
      for (const s of servers) s.close();
      fs.rmSync(dir, { recursive: true, force: true });
      fs.rmSync(path.dirname(fake.address.replace(/^unix:\/\//, '')), { recursive: true, force: true });
    }
  });
});

describe('events collector: shutdown with a state file', () => {
  it('lists the SAs once more before writing it, but not right after a scrape listed them', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'events-detach-'));
    const fake = await daemonOfOneRun([{ gw: { uniqueid: '1', state: 'ESTABLISHED' } }]);
    const listings = () =>
      fake.log.filter(([t, n]) => t === PacketType.CMD_REQUEST && n === 'list-sas').length;
    try {
      for (const [opts, expected] of [
        [{}, 1],
        [{ listedJustNow: true }, 0],
      ] as const) {
        const file = path.join(dir, `${expected}.events.json`);
        const ev = events.attach?.({
          address: fake.address,
          timeoutMs: 3000,
          log: quietLog,
          stateFile: file,
        });
        assert.ok(ev);
        for (let i = 0; !(ev as unknown as { client: ViciClient }).client.connected; i++) {
          assert.ok(i < 300, 'subscribed at start');
          await sleep(10);
        }
        await scrapeFake(fake, [ev]);
        fake.log.length = 0;
        await ev.detach(opts);
        assert.equal(listings(), expected, JSON.stringify(opts));
        assert.ok(fs.existsSync(file), 'the state file is written');
      }
    } finally {
      await fake.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
