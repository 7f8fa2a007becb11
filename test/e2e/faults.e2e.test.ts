// Issue: reliability on the real daemon. charon is killed (SIGKILL) in the middle of a scrape, then
// restarted: the exporter stays up, answers within the VICI timeout plus a second, and the next scrape
// after the restart is complete and correct; the event subscription recovers too.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseExposition, select, value } from '../helpers/exposition.js';
import { type Child, getFresh, startExporter, waitFor } from '../helpers/processes.js';
import { Lab } from './lab.js';

const EXTRAS = 150;

describe('charon killed in the middle of a scrape', { timeout: 240_000 }, () => {
  const lab = new Lab();
  let exporter: Child & { url: string };
  before(async () => {
    lab.up();
    lab.lab('add', String(EXTRAS));
    exporter = await startExporter(['--vici.address', lab.vici('gw1'), '--vici.timeout', '3s']);
  });
  after(async () => {
    await exporter?.stop();
    lab.down();
  });

  const kill9 = () => {
    const pid = Number(fs.readFileSync(path.join(lab.env.LAB_DIR as string, 'gw1/charon.pid'), 'utf8'));
    process.kill(pid, 'SIGKILL');
  };

  for (let round = 1; round <= 3; round++) {
    it(`round ${round}: answers in time while charon dies, and recovers completely after the restart`, async () => {
      const full = parseExposition((await getFresh(`${exporter.url}/metrics`)).text);
      const ikeSas = value(full, 'strongswan_number_of_ikes_connected');
      assert.ok(ikeSas >= EXTRAS + 1, `${ikeSas} IKE SAs before`);

      const t0 = Date.now();
      const pending = getFresh(`${exporter.url}/metrics`);
      await sleep(round * 3);
      kill9();
      const r = await pending;
      const took = Date.now() - t0;
      assert.equal(r.status, 200);
      assert.ok(took < 3000 + 1000, `answered in ${took} ms`);
      const during = parseExposition(r.text);
      const ok = select(during, 'strongswan_exporter_collector_success').every((s) => s.value === 1);
      // Either the scrape got everything before charon died, or it says what it missed.
      if (!ok) assert.ok(select(during, 'strongswan_exporter_collector_success').some((s) => s.value === 0));
      const after = parseExposition((await getFresh(`${exporter.url}/metrics`)).text);
      assert.equal(value(after, 'strongswan_up'), 0);

      lab.lab('start-charon', 'gw1');
      const back = parseExposition((await getFresh(`${exporter.url}/metrics`)).text);
      assert.equal(value(back, 'strongswan_up'), 1);
      for (const s of select(back, 'strongswan_exporter_collector_success'))
        assert.equal(s.value, 1, s.labels.collector);
      assert.equal(value(back, 'strongswan_conn_up', { conn: 'site' }), 1);
      assert.equal(value(back, 'strongswan_number_of_ikes_connected'), ikeSas);
      await waitFor(
        'events reconnect',
        async () => {
          const p = parseExposition((await getFresh(`${exporter.url}/metrics`)).text);
          return value(p, 'strongswan_exporter_events_connected') === 1;
        },
        20_000,
      );
      assert.equal(exporter.proc.exitCode, null, 'the exporter is still running');
      assert.doesNotMatch(exporter.output, /Unhandled|uncaught|\n\s+at /i);
    });
  }
});
