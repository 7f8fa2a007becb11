// Issue: production serving. With a web config of TLS + basic auth: no credentials 401, a wrong
// password 401, the right one 200 over TLS; a real Prometheus scrapes over TLS with basic auth; the
// landing page renders in headless Chromium (screenshot kept in test-artifacts/); /probe?target=
// scrapes two lab gateways from one exporter; users and certificates reload, a broken file is refused.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import bcrypt from 'bcryptjs';
import { CLI } from '../helpers/cli.js';
import { parseExposition, select, value } from '../helpers/exposition.js';
import { Child, freePort, promQuery, startPrometheus, waitFor } from '../helpers/processes.js';
import { selfSignedCert } from '../helpers/tls.js';
import { Lab, ROOT } from './lab.js';

const ARTIFACTS = path.join(ROOT, 'test-artifacts');

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function get(url: string, ca: string, auth?: string, extra: https.RequestOptions = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = https.get(url, { ca, auth, ...extra }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => {
        body += d;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.setTimeout(15_000, () => req.destroy(new Error('timeout')));
  });
}

function hasChromium(): boolean {
  try {
    execFileSync('chromium', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('TLS, basic auth and multi-target on the real lab', { timeout: 240_000 }, () => {
  const lab = new Lab();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'e2e-web-'));
  const webFile = path.join(dir, 'web.yml');
  const hash = (p: string) => bcrypt.hashSync(p, 10).replace(/^\$2b\$/, '$2y$');
  const promHash = hash('s3cret');
  let ca = '';
  let exporter: Child & { url: string };

  const writeWeb = (users: Record<string, string>) =>
    fs.writeFileSync(
      webFile,
      `tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\nhttp_server_config:\n  headers:\n    X-Content-Type-Options: nosniff\nbasic_auth_users:\n${Object.entries(
        users,
      )
        .map(([u, h]) => `  ${u}: '${h}'`)
        .join('\n')}\n`,
    );

  before(async () => {
    lab.up();
    ca = selfSignedCert(dir);
    writeWeb({ prom: promHash });
    fs.writeFileSync(
      path.join(dir, 'targets.yml'),
      `targets:\n  gw1:\n    address: ${lab.vici('gw1')}\n    timeout: 3s\n  gw2:\n    address: ${lab.vici('gw2')}\n`,
    );
    const port = await freePort();
    const child = new Child(
      spawn(
        process.execPath,
        [
          CLI,
          '--web.listen-address',
          `127.0.0.1:${port}`,
          '--web.config.file',
          webFile,
          '--config.file',
          path.join(dir, 'targets.yml'),
          '--vici.address',
          lab.vici('gw1'),
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      ),
    );
    const url = `https://localhost:${port}`;
    await waitFor('exporter', async () => (await get(`${url}/-/healthy`, ca, 'prom:s3cret')).status === 200);
    exporter = Object.assign(child, { url });
  });
  after(async () => {
    await exporter?.stop();
    lab.down();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('refuses missing and wrong credentials with 401 and WWW-Authenticate, admits the right ones over TLS', async () => {
    const none = await get(`${exporter.url}/metrics`, ca);
    assert.equal(none.status, 401);
    assert.match(String(none.headers['www-authenticate']), /^Basic realm=/);
    assert.equal((await get(`${exporter.url}/metrics`, ca, 'prom:wrong')).status, 401);
    assert.equal((await get(`${exporter.url}/metrics`, ca, 'nobody:s3cret')).status, 401);
    const ok = await get(`${exporter.url}/metrics`, ca, 'prom:s3cret');
    assert.equal(ok.status, 200);
    assert.equal(ok.headers['x-content-type-options'], 'nosniff');
    assert.equal(value(parseExposition(ok.body), 'strongswan_up'), 1);
    assert.ok(exporter.output.includes('TLS is enabled'));
  });

  it('refuses TLS 1.1 (weak versions are off by default)', async () => {
    await assert.rejects(
      get(`${exporter.url}/-/healthy`, ca, 'prom:s3cret', { maxVersion: 'TLSv1.1', minVersion: 'TLSv1' }),
    );
  });

  it('serves /probe?target= for two lab gateways from one exporter, and refuses the rest', async () => {
    const gw1 = parseExposition((await get(`${exporter.url}/probe?target=gw1`, ca, 'prom:s3cret')).body);
    const gw2 = parseExposition((await get(`${exporter.url}/probe?target=gw2`, ca, 'prom:s3cret')).body);
    for (const p of [gw1, gw2]) {
      assert.equal(value(p, 'strongswan_up'), 1);
      assert.equal(value(p, 'strongswan_conn_up', { conn: 'site' }), 1);
      assert.equal(
        select(p, 'process_resident_memory_bytes').length,
        0,
        'probe output has no process metrics',
      );
    }
    assert.equal(
      select(gw1, 'strongswan_ike_sa_info', { conn: 'site' })[0]?.labels.local_host,
      '192.168.251.1',
    );
    assert.equal(
      select(gw2, 'strongswan_ike_sa_info', { conn: 'site' })[0]?.labels.local_host,
      '192.168.251.2',
    );
    assert.equal(select(gw1, 'strongswan_conn_up', { conn: 'never' }).length, 1);
    assert.equal(select(gw2, 'strongswan_conn_up', { conn: 'never' }).length, 0);
    const raw = await get(
      `${exporter.url}/probe?target=${encodeURIComponent(lab.vici('gw2'))}`,
      ca,
      'prom:s3cret',
    );
    assert.equal(raw.status, 400);
    assert.match(raw.body, /probe only targets named in --config.file/);
    assert.equal((await get(`${exporter.url}/probe`, ca, 'prom:s3cret')).status, 400);
    assert.equal((await get(`${exporter.url}/probe?target=gw1&target=gw2`, ca, 'prom:s3cret')).status, 400);
    assert.equal((await get(`${exporter.url}/probe?target=gw1`, ca)).status, 401);
  });

  it('a real Prometheus scrapes over TLS with basic auth, /metrics and /probe', async () => {
    fs.writeFileSync(path.join(dir, 'ca.pem'), ca);
    const host = exporter.url.replace('https://', '');
    const auth = `    scheme: https\n    tls_config:\n      ca_file: ${path.join(dir, 'ca.pem')}\n    basic_auth:\n      username: prom\n      password: s3cret\n`;
    const prom = await startPrometheus(
      [],
      `  - job_name: tls\n${auth}    static_configs:\n      - targets: ['${host}']\n` +
        `  - job_name: probe\n${auth}    metrics_path: /probe\n    static_configs:\n      - targets: [gw1, gw2]\n` +
        `    relabel_configs:\n      - source_labels: [__address__]\n        target_label: __param_target\n      - source_labels: [__param_target]\n        target_label: instance\n      - target_label: __address__\n        replacement: '${host}'\n`,
    );
    try {
      await waitFor(
        'scrapes',
        async () => (await promQuery(prom.url, 'strongswan_up == 1')).length === 3,
        30_000,
      );
      const up = await promQuery(prom.url, 'up{job=~"tls|probe"}');
      assert.deepEqual(
        up.map((v) => v.value[1]),
        ['1', '1', '1'],
      );
      const probes = await promQuery(prom.url, 'strongswan_conn_up{job="probe",conn="site"}');
      assert.deepEqual(probes.map((v) => v.metric.instance).sort(), ['gw1', 'gw2']);
    } finally {
      await prom.stop();
    }
  });

  it('renders the landing page in headless Chromium (screenshot in test-artifacts/)', {
    skip: !hasChromium() && 'chromium not installed',
  }, () => {
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    const shot = path.join(ARTIFACTS, 'landing-page.png');
    fs.rmSync(shot, { force: true });
    const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'chromium-'));
    const flags = [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--ignore-certificate-errors',
      `--user-data-dir=${profile}`,
      '--window-size=1000,600',
    ];
    const url = exporter.url.replace('https://', 'https://prom:s3cret@');
    try {
      const dom = execFileSync('chromium', [...flags, '--dump-dom', `${url}/`], {
        encoding: 'utf8',
        timeout: 60_000,
        stdio: ['ignore', 'pipe', 'ignore'],
      });
      assert.match(dom, /<h1>strongSwan Exporter<\/h1>/);
      assert.match(dom, /href="\/probe\?target=gw2"/);
      execFileSync('chromium', [...flags, `--screenshot=${shot}`, `${url}/`], {
        timeout: 60_000,
        stdio: 'ignore',
      });
      const png = fs.readFileSync(shot);
      assert.equal(png.subarray(1, 4).toString(), 'PNG');
      assert.ok(png.length > 5000, `screenshot of ${png.length} bytes`);
    } finally {
      fs.rmSync(profile, { recursive: true, force: true });
    }
  });

  it('reloads users when the file changes, keeps the old config when the new one is broken', async () => {
    writeWeb({ prom: promHash, grafana: hash('other') });
    await waitFor(
      'reload',
      async () => (await get(`${exporter.url}/-/ready`, ca, 'grafana:other')).status === 200,
      10_000,
    );
    fs.writeFileSync(webFile, 'basic_auth_users:\n  prom: not-a-hash\n');
    await waitFor(
      'refusal logged',
      async () => exporter.output.includes('web config reload failed, keeping the previous one'),
      10_000,
    );
    assert.equal((await get(`${exporter.url}/-/ready`, ca, 'prom:s3cret')).status, 200);
    assert.equal((await get(`${exporter.url}/-/ready`, ca, 'grafana:other')).status, 200);
    writeWeb({ prom: promHash });
    exporter.proc.kill('SIGHUP');
    await waitFor(
      'SIGHUP reload',
      async () => (await get(`${exporter.url}/-/ready`, ca, 'grafana:other')).status === 401,
      10_000,
    );
    assert.match(exporter.output, /web config reloaded.*why=SIGHUP/);
  });
});
