// Nothing lost, nothing counted twice, on the real lab with counted traffic: every `lab.sh traffic N`
// sends N pings of 84 bytes (IP) each way through net1 and through net2, so the traffic per child
// config must rise by exactly what was sent, or, where the daemon hides bytes (a CHILD SA rekeyed by
// this side, a daemon killed with SIGKILL), by no less than what was sent minus the traffic since
// the last scrape (README: "Traffic per child config: restarts and limits"). The event counters
// must equal the disruptions made, also those made while the subscription was away: the exporter
// talks to gw1 through a VICI proxy that can close its subscription while its listings go on.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Parsed, parseExposition, value } from '../helpers/exposition.js';
import { type Child, getFresh, startExporter, waitFor } from '../helpers/processes.js';
import { ViciProxy } from '../helpers/vici-proxy.js';
import { Lab } from './lab.js';

/** Bytes of one ping as the CHILD SAs count it (an 84-byte IP packet each way). */
const PING = 84;
const CHILDREN = ['net1', 'net2'] as const;
type Events = { ike: number[]; net1: number[]; net2: number[] };

describe('nothing lost, nothing counted twice (real lab, counted traffic)', { timeout: 300_000 }, () => {
  const lab = new Lab();
  let dir = '';
  let proxy: ViciProxy;
  let exporter: Child & { url: string };

  const scrape = async (): Promise<Parsed> =>
    parseExposition((await getFresh(`${exporter.url}/metrics`)).text);
  const bytes = (p: Parsed, child: string) => ({
    in: value(p, 'strongswan_conn_child_bytes_total', { conn: 'site', child, direction: 'in' }),
    out: value(p, 'strongswan_conn_child_bytes_total', { conn: 'site', child, direction: 'out' }),
  });
  const events = (p: Parsed): Events => {
    const three = (f: (e: string) => number) => ['up', 'down', 'rekey'].map(f);
    return {
      ike: three((event) => value(p, 'strongswan_ike_sa_events_total', { conn: 'site', event })),
      net1: three((event) =>
        value(p, 'strongswan_child_sa_events_total', { conn: 'site', child: 'net1', event }),
      ),
      net2: three((event) =>
        value(p, 'strongswan_child_sa_events_total', { conn: 'site', child: 'net2', event }),
      ),
    };
  };
  const delta = (a: Events, b: Events): Events => ({
    ike: b.ike.map((v, i) => v - (a.ike[i] as number)),
    net1: b.net1.map((v, i) => v - (a.net1[i] as number)),
    net2: b.net2.map((v, i) => v - (a.net2[i] as number)),
  });
  const connected = async (want: 0 | 1) =>
    waitFor(
      `subscription ${want ? 'back' : 'away'}`,
      async () => value(await scrape(), 'strongswan_exporter_events_connected') === want,
      20_000,
    );
  /** The unique ids of site's IKE SA and CHILD SAs on gw1, as swanctl shows them. */
  const ids = (): string =>
    lab.swanctl('gw1', '--list-sas', '--ike', 'site').replace(/\d+ bytes.*|\d+s ago/g, '');
  const settle = async (): Promise<void> => {
    // whatever was missing from the last listing is a down once the next lacks it too
    await scrape();
    await scrape();
  };

  /**
   * 3 pings, a scrape, 4 pings, then `disrupt` gw1's charon; once site is up again and settled,
   * 2 pings: the scrapes before and after.
   */
  const aroundCharon = async (disrupt: () => void): Promise<{ p0: Parsed; p: Parsed }> => {
    const p0 = await scrape();
    lab.lab('traffic', '3');
    await scrape();
    lab.lab('traffic', '4');
    disrupt();
    await waitFor(
      'site up again',
      async () => value(await scrape(), 'strongswan_conn_up', { conn: 'site' }) === 1,
    );
    await settle();
    lab.lab('traffic', '2');
    return { p0, p: await scrape() };
  };

  before(async () => {
    lab.up();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'e2e-continuity-'));
    proxy = await new ViciProxy(
      lab.vici('gw1').replace(/^unix:\/\//, ''),
      path.join(dir, 'proxy.vici'),
    ).listen();
    exporter = await startExporter(['--vici.address', proxy.address, '--vici.timeout', '3s']);
    await connected(1);
    // An SA made within a second after the exporter started counts as older than it (install-time
    // is in whole seconds; nothing is counted twice): the disruptions below come later.
    await sleep(2000);
  });
  after(async () => {
    await exporter?.stop();
    await proxy?.close();
    lab.down();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a subscription gap with a CHILD rekey, an IKE rekey, a terminate and an initiate: each counted once, traffic exact', async () => {
    const p0 = await scrape();
    let pings = 0;
    const traffic = async (n: number) => {
      lab.lab('traffic', String(n));
      pings += n;
      await scrape(); // the last reading before the next disruption: nothing passes after it
    };
    await traffic(3);
    proxy.deaf = true;
    await connected(0);

    const before1 = ids();
    lab.swanctl('gw1', '--rekey', '--child', 'net1');
    await waitFor('net1 rekeyed, the old SA gone', async () => {
      const now = ids();
      return now !== before1 && (now.match(/net1:/g) ?? []).length === 1;
    });
    await traffic(2);
    const before2 = ids();
    lab.swanctl('gw1', '--rekey', '--ike', 'site');
    await waitFor('site rekeyed, the old IKE SA gone', async () => {
      const now = ids();
      return now !== before2 && (now.match(/^site:/gm) ?? []).length === 1;
    });
    await traffic(2);
    lab.swanctl('gw1', '--terminate', '--ike', 'site');
    lab.swanctl('gw1', '--initiate', '--child', 'net1');
    lab.swanctl('gw1', '--initiate', '--child', 'net2');
    await settle();
    await traffic(2);
    assert.ok(proxy.dropped > 0, 'the subscription was really kept away');

    proxy.deaf = false;
    await connected(1);
    const p = await scrape();
    assert.deepEqual(
      delta(events(p0), events(p)),
      {
        ike: [1, 1, 1],
        net1: [1, 1, 1],
        net2: [1, 1, 0],
      },
      exporter.output,
    );
    for (const child of CHILDREN)
      assert.deepEqual(
        bytes(p, child),
        { in: bytes(p0, child).in + pings * PING, out: bytes(p0, child).out + pings * PING },
        child,
      );
    // and no event that comes later adds any of it again
    lab.lab('traffic', '1');
    const q = await scrape();
    assert.deepEqual(events(q), events(p));
    assert.deepEqual(bytes(q, 'net1'), { in: bytes(p, 'net1').in + PING, out: bytes(p, 'net1').out + PING });
  });

  it('a CHILD SA rekeyed by this side under traffic: short by no more than what passed since the last scrape', async (t) => {
    const p0 = await scrape();
    lab.lab('traffic', '3');
    await scrape();
    // 10 pings (2 s) after the last reading, the rekey in their midst: charon may never read the old
    // outbound SA's counters again
    const pings = lab.trafficAsync(10);
    await sleep(1000);
    const before1 = ids();
    lab.swanctl('gw1', '--rekey', '--child', 'net1');
    await pings;
    await waitFor('the old SA gone', async () => {
      const now = ids();
      return now !== before1 && (now.match(/net1:/g) ?? []).length === 1;
    });
    lab.lab('traffic', '2');
    const p = await scrape();
    const sent = 15 * PING;
    const got = {
      in: bytes(p, 'net1').in - bytes(p0, 'net1').in,
      out: bytes(p, 'net1').out - bytes(p0, 'net1').out,
    };
    t.diagnostic(`CHILD SA rekey: sent ${sent} bytes each way, counted in ${got.in}, out ${got.out}`);
    // Mostly the outbound side loses (charon removes the old outbound SA before it reads it); a reply
    // that reaches the old inbound SA after the last reading is lost too (seen: 84 bytes, one ping).
    for (const d of ['in', 'out'] as const)
      assert.ok(
        got[d] <= sent && got[d] >= sent - 10 * PING,
        `${d}: ${got[d]} of ${sent}: lost ${sent - got[d]}`,
      );
    assert.deepEqual(delta(events(p0), events(p)), { ike: [0, 0, 0], net1: [0, 0, 1], net2: [0, 0, 0] });
  });

  it('charon stopped and started: traffic exact, one down and one up', async () => {
    const { p0, p } = await aroundCharon(() => lab.lab('restart-charon', 'gw1'));
    for (const child of CHILDREN)
      assert.deepEqual(
        bytes(p, child),
        { in: bytes(p0, child).in + 9 * PING, out: bytes(p0, child).out + 9 * PING },
        child,
      );
    assert.deepEqual(delta(events(p0), events(p)), { ike: [1, 1, 0], net1: [1, 1, 0], net2: [1, 1, 0] });
  });

  it('charon killed (SIGKILL): short by no more than what passed since the last scrape; its downs counted from the listings', async (t) => {
    // the 4 pings after the last reading: a killed daemon never tells
    const { p0, p } = await aroundCharon(() => {
      lab.lab('kill-charon', 'gw1');
      lab.lab('start-charon', 'gw1');
    });
    const sent = 9 * PING;
    for (const child of CHILDREN) {
      const got = {
        in: bytes(p, child).in - bytes(p0, child).in,
        out: bytes(p, child).out - bytes(p0, child).out,
      };
      t.diagnostic(`SIGKILL: ${child} sent ${sent} bytes each way, counted in ${got.in}, out ${got.out}`);
      for (const d of ['in', 'out'] as const)
        assert.ok(
          got[d] <= sent && got[d] >= sent - 4 * PING,
          `${child} ${d}: ${got[d]} of ${sent}, lost ${sent - got[d]}`,
        );
    }
    assert.deepEqual(delta(events(p0), events(p)), { ike: [1, 1, 0], net1: [1, 1, 0], net2: [1, 1, 0] });
  });
});
