import assert from 'node:assert/strict';
import fs from 'node:fs';
import type http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import bcrypt from 'bcryptjs';
import { selfSignedCert } from '../../test/helpers/tls.js';
import { Gate } from './auth.js';
import { parseWebConfig, tlsOptions, WebConfigError } from './web-config.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'webcfg-'));
const hash = bcrypt.hashSync('s3cret', 4).replace(/^\$2b\$/, '$2y$');

before(() => {
  selfSignedCert(dir);
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const parse = (text: string) => parseWebConfig(text, dir);

describe('web config', () => {
  it('an empty file means plain HTTP without auth', () => {
    const c = parse('');
    assert.equal(c.tls, undefined);
    assert.equal(c.users.size, 0);
  });

  it('reads TLS files relative to the config, defaults to TLS 1.2 at least', () => {
    const c = parse('tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\n');
    assert.match(c.tls?.cert ?? '', /BEGIN CERTIFICATE/);
    assert.deepEqual(c.tls?.files, [path.join(dir, 'cert.pem'), path.join(dir, 'key.pem')]);
    const o = tlsOptions(c.tls as NonNullable<typeof c.tls>);
    assert.equal(o.minVersion, 'TLSv1.2');
    assert.equal(o.maxVersion, 'TLSv1.3');
    assert.equal(o.requestCert, false);
  });

  it('maps cipher suites and curves to OpenSSL names, and refuses what it cannot map', () => {
    const c = parse(
      'tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\n  cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305]\n  curve_preferences: [X25519, CurveP256]\n',
    );
    assert.equal(c.tls?.ciphers, 'ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-CHACHA20-POLY1305');
    assert.equal(c.tls?.ecdhCurve, 'X25519:prime256v1');
    assert.throws(
      () =>
        parse(
          'tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\n  cipher_suites: [TLS_AES_128_GCM_SHA256]\n',
        ),
      /cipher_suites: "TLS_AES_128_GCM_SHA256"/,
    );
  });

  it('maps client_auth_type', () => {
    const c = parse(
      'tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\n  client_ca_file: cert.pem\n  client_auth_type: RequireAndVerifyClientCert\n',
    );
    const o = tlsOptions(c.tls as NonNullable<typeof c.tls>);
    assert.equal(o.requestCert, true);
    assert.equal(o.rejectUnauthorized, true);
    assert.throws(
      () =>
        parse(
          'tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\n  client_auth_type: VerifyClientCertIfGiven\n',
        ),
      /needs client_ca_file/,
    );
  });

  const bad: [string, string, RegExp][] = [
    ['unknown top-level key', 'tls_config: {}\n', /unknown key "tls_config"/],
    [
      'unknown TLS key',
      'tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\n  certfile: x\n',
      /unknown key "certfile"/,
    ],
    ['missing key file', 'tls_server_config:\n  cert_file: cert.pem\n', /key_file \(or key\) is required/],
    [
      'unreadable cert',
      'tls_server_config:\n  cert_file: nope.pem\n  key_file: key.pem\n',
      /cannot read .*nope\.pem: ENOENT/,
    ],
    [
      'bad version',
      'tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\n  min_version: SSL3\n',
      /min_version: "SSL3"/,
    ],
    [
      'min above max',
      'tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\n  min_version: TLS13\n  max_version: TLS12\n',
      /min_version is above/,
    ],
    ['not a bcrypt hash', 'basic_auth_users:\n  alice: plaintext\n', /alice: not a bcrypt hash/],
    [
      'header not allowed',
      'http_server_config:\n  headers:\n    Set-Cookie: x\n',
      /"Set-Cookie" is not one of/,
    ],
    ['bad YAML', 'basic_auth_users: [\n', /invalid YAML/],
    ['duplicate key', 'basic_auth_users:\n  a: x\n  a: y\n', /invalid YAML/],
    ['bad rate limit', 'rate_limit:\n  interval: soon\n  burst: 2\n', /rate_limit.interval/],
  ];
  for (const [what, text, re] of bad) {
    it(`refuses ${what} with a clear error`, () => {
      assert.throws(
        () => parse(text),
        (e: unknown) => e instanceof WebConfigError && re.test(e.message),
      );
    });
  }

  it('accepts htpasswd $2y$ hashes and allow-listed headers', () => {
    const c = parse(
      `basic_auth_users:\n  prom: '${hash}'\nhttp_server_config:\n  headers:\n    x-frame-options: deny\n`,
    );
    assert.equal(c.users.get('prom'), hash);
    assert.deepEqual(c.headers, { 'X-Frame-Options': 'deny' });
  });
});

describe('basic auth gate', () => {
  const req = (auth?: string) =>
    ({ headers: auth ? { authorization: auth } : {}, socket: {} }) as unknown as http.IncomingMessage;
  const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;

  it('admits the right password and refuses the rest with 401', async () => {
    const g = new Gate(parse(`basic_auth_users:\n  prom: '${hash}'\n`));
    assert.deepEqual(await g.admit(req(basic('prom', 's3cret'))), { ok: true });
    assert.equal((await g.admit(req(basic('prom', 'wrong')))).ok, false);
    assert.equal((await g.admit(req())).ok, false);
    assert.equal((await g.admit(req('Basic !!!'))).ok, false);
    const r = await g.admit(req(basic('mallory', 's3cret')));
    assert.ok(!r.ok && r.status === 401);
  });

  it('spends a bcrypt comparison on an unknown user too, and caches verified credentials', async () => {
    const g = new Gate(parse(`basic_auth_users:\n  prom: '${hash}'\n`));
    await g.admit(req(basic('nobody', 'x')));
    assert.equal(g.comparisons, 1, 'unknown user compared against the dummy hash');
    await g.admit(req(basic('prom', 's3cret')));
    await g.admit(req(basic('prom', 's3cret')));
    assert.equal(g.comparisons, 2, 'second scrape with the same credentials is cached');
  });

  it('rate limits with 429', async () => {
    const g = new Gate(parse('rate_limit:\n  interval: 1h\n  burst: 2\n'));
    assert.equal((await g.admit(req())).ok, true);
    assert.equal((await g.admit(req())).ok, true);
    const r = await g.admit(req());
    assert.ok(!r.ok && r.status === 429);
  });
});
