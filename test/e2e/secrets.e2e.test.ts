// Issue: secrets and privacy. With PSKs, an EAP secret and private keys loaded into the lab's charon,
// no secret byte appears in /metrics, in `query` output, or in the exporter's logs (debug level);
// --privacy.hide-remote-identities leaves peer identities out of every label.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../helpers/cli.js';
import { parseExposition, select } from '../helpers/exposition.js';
import { type Child, startExporter } from '../helpers/processes.js';
import { Lab } from './lab.js';

describe('secrets and privacy on the real lab', { timeout: 180_000 }, () => {
  const lab = new Lab();
  const eapSecret = `EapSecret-${crypto.randomBytes(12).toString('hex')}`;
  const pskText = `PskText-${crypto.randomBytes(12).toString('hex')}`;
  let secrets: { what: string; needle: string }[] = [];
  let exporter: Child & { url: string };

  before(async () => {
    lab.up();
    const dir = lab.env.LAB_DIR as string;
    const conf = path.join(dir, 'gw1/swanctl/swanctl.conf');
    fs.writeFileSync(
      path.join(dir, 'gw1/swanctl/conf.d/test-secrets.conf'),
      `secrets {\n  eap-carol {\n    id = carol@sswlab\n    secret = "${eapSecret}"\n  }\n  ike-text {\n    id = text@sswlab\n    secret = "${pskText}"\n  }\n}\n`,
      { mode: 0o600 },
    );
    lab.swanctl('gw1', '--load-creds', '--file', conf);
    const keyPem = fs.readFileSync(path.join(dir, 'gw1/swanctl/private/gw1.key'), 'utf8');
    const keyDer = crypto.createPrivateKey(keyPem).export({ format: 'der', type: 'pkcs8' });
    const jwk = crypto.createPrivateKey(keyPem).export({ format: 'jwk' }) as { d: string };
    const psk = fs.readFileSync(path.join(dir, 'psk'), 'utf8').trim();
    secrets = [
      { what: 'lab PSK (hex)', needle: psk },
      { what: 'lab PSK (base64)', needle: Buffer.from(psk, 'hex').toString('base64') },
      { what: 'EAP secret', needle: eapSecret },
      { what: 'text PSK', needle: pskText },
      { what: 'private key (PEM body)', needle: keyPem.split('\n')[1] as string },
      { what: 'private key (DER, base64)', needle: keyDer.toString('base64').slice(0, 40) },
      { what: 'private scalar (hex)', needle: Buffer.from(jwk.d, 'base64url').toString('hex') },
      { what: 'private scalar (base64)', needle: Buffer.from(jwk.d, 'base64url').toString('base64') },
    ];
    exporter = await startExporter([
      '--vici.address',
      lab.vici('gw1'),
      '--log.level',
      'debug',
      '--collector.conncounters',
    ]);
  });
  after(async () => {
    await exporter?.stop();
    lab.down();
  });

  const assertClean = (where: string, text: string) => {
    for (const s of secrets) assert.ok(!text.includes(s.needle), `${s.what} found in ${where}`);
  };

  it('the daemon really holds the secrets (the test can fail)', async () => {
    const r = await runCli(['query', 'get-shared', '--vici.address', lab.vici('gw1')]);
    assert.match(r.stdout, /eap-carol/);
    assert.match(r.stdout, /ike-text/);
  });

  it('no secret in /metrics, in query output, or in the logs', async () => {
    const metrics = await (await fetch(`${exporter.url}/metrics`)).text();
    assert.match(metrics, /strongswan_up 1/);
    assertClean('/metrics', metrics);
    for (const cmd of [
      'list-sas',
      'list-conns',
      'list-certs',
      'list-policies',
      'get-shared',
      'get-keys',
      'get-pools',
      'stats',
      'get-counters',
      'list-authorities',
    ]) {
      const r = await runCli(['query', cmd, '--vici.address', lab.vici('gw1')]);
      assertClean(`query ${cmd}`, r.stdout + r.stderr);
    }
    // Also when a command fails and when a scrape fails.
    lab.lab('stop-charon', 'gw1');
    await (await fetch(`${exporter.url}/metrics`)).text();
    lab.lab('start-charon', 'gw1');
    await (await fetch(`${exporter.url}/metrics`)).text();
    assertClean('exporter logs', exporter.output);
  });

  it('--privacy.hide-remote-identities leaves peer identities out of labels', async () => {
    const plain = parseExposition(await (await fetch(`${exporter.url}/metrics`)).text());
    const remoteIds = select(plain, 'strongswan_ike_sa_info').map((s) => s.labels.remote_id);
    assert.ok(remoteIds.includes('gw2-site@sswlab'), remoteIds.join());
    const hidden = await startExporter([
      '--vici.address',
      lab.vici('gw1'),
      '--privacy.hide-remote-identities',
    ]);
    try {
      const text = await (await fetch(`${hidden.url}/metrics`)).text();
      const p = parseExposition(text);
      assert.ok(select(p, 'strongswan_ike_sa_info').length >= 2);
      for (const s of select(p, 'strongswan_ike_sa_info')) assert.equal(s.labels.remote_id, '');
      for (const id of ['gw2-site@sswlab', 'gw2.sswlab', 'CN=gw2'])
        assert.ok(!text.includes(id), `${id} in the output`);
      // our own certificates stay named
      assert.ok(
        select(p, 'strongswan_cert_not_after_timestamp_seconds').some((s) =>
          (s.labels.subject ?? '').includes('gw1'),
        ),
      );
    } finally {
      await hidden.stop();
    }
  });
});
