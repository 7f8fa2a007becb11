import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeMessage, encodeMessage, type ViciInput, type ViciSection } from '../vici/index.js';
import { EventState } from './events.js';

const SEP = '\u0000';
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
  return st.endScrape(true).get(`gw${SEP}net`)?.reported[0] ?? 0;
}

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
    assert.deepEqual(st.childEvents.get(`gw${SEP}net${SEP}rekey`)?.value, 1);
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
    assert.equal(st.ikeEvents.get(`gw${SEP}down`)?.value, 1);
    assert.equal(st.ikeEvents.get(`gw${SEP}up`)?.value, 1);
    assert.equal(st.childEvents.get(`gw${SEP}net${SEP}down`)?.value, 1);
    assert.equal(st.childEvents.get(`gw${SEP}net${SEP}up`)?.value, 1);
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
    assert.equal(st.endScrape(true).get(`gw${SEP}net`)?.reported[0], 320);
  });

  it('never goes backwards, also when the daemon is away', () => {
    const st = new EventState();
    assert.equal(scrape(st, [child(1, 'aa', 100)]), 100);
    st.beginScrape();
    assert.equal(st.endScrape(false).get(`gw${SEP}net`)?.reported[0], 100);
    assert.equal(scrape(st, [child(2, 'bb', 5)]), 105);
  });

  it('counts alerts by type and initialises configured connections at 0', () => {
    const st = new EventState();
    st.onEvent('alert', sec({ type: 'peer-auth-failed' }));
    st.onEvent('alert', sec({ type: 'peer-auth-failed' }));
    assert.equal(st.alerts.get('peer-auth-failed')?.value, 2);
    st.known('site');
    st.known('site', 'net1');
    assert.equal(st.ikeEvents.get(`site${SEP}rekey`)?.value, 0);
    assert.equal(st.childEvents.get(`site${SEP}net1${SEP}up`)?.value, 0);
    st.beginScrape();
    assert.deepEqual(st.endScrape(true).get(`site${SEP}net1`)?.reported, [0, 0, 0, 0]);
  });
});
