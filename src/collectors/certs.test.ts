import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FakeCharon, type Reply } from '../../test/fake-charon/server.js';
import { select, value } from '../../test/helpers/exposition.js';
import { scrapeFake, success, VERSION_REPLY } from '../../test/helpers/scrape.js';
import { certs, formatSerial, parseAsn1Time, parseCert, parseCrl } from './certs.js';
import { version } from './version.js';

/** A CA, an end-entity certificate and two CRLs of that CA, made by openssl in a temporary directory. */
function makePki(dir: string) {
  const ssl = (...args: string[]) =>
    execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  ssl(
    'req',
    '-x509',
    '-new',
    ...ec,
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-days',
    '3650',
    '-subj',
    '/C=CH/O=Lab, Inc./CN=Test CA',
  );
  ssl(
    'req',
    '-x509',
    '-new',
    ...ec,
    '-keyout',
    'ee.key',
    '-out',
    'ee.pem',
    '-days',
    '30',
    '-subj',
    '/C=CH/O=sswlab test/CN=gw1.test',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-addext',
    'basicConstraints=CA:FALSE',
  );
  fs.writeFileSync(path.join(dir, 'index.txt'), '');
  fs.writeFileSync(
    path.join(dir, 'ca.cnf'),
    `[ca]\ndefault_ca = d\n[d]\ndatabase = ${dir}/index.txt\ndefault_md = sha256\n`,
  );
  const crl = (out: string, last: string, next: string) => {
    ssl(
      'ca',
      '-batch',
      '-gencrl',
      '-config',
      'ca.cnf',
      '-keyfile',
      'ca.key',
      '-cert',
      'ca.pem',
      '-crl_lastupdate',
      last,
      '-crl_nextupdate',
      next,
      '-out',
      `${out}.pem`,
    );
    ssl('crl', '-in', `${out}.pem`, '-outform', 'DER', '-out', `${out}.der`);
  };
  crl('crl-old', '20260101000000Z', '20260108000000Z'); // UTCTime
  crl('crl-new', '20260201000000Z', '20600101000000Z'); // nextUpdate after 2049: GeneralizedTime
  const der = (f: string) => ssl('x509', '-in', f, '-outform', 'DER');
  const text = (f: string, opt: string) => ssl('x509', '-in', f, '-noout', opt).toString().trim();
  return {
    ca: der('ca.pem'),
    ee: der('ee.pem'),
    eeEnd: Date.parse(text('ee.pem', '-enddate').replace('notAfter=', '')) / 1000,
    eeStart: Date.parse(text('ee.pem', '-startdate').replace('notBefore=', '')) / 1000,
    eeSerial: text('ee.pem', '-serial').replace('serial=', ''),
    crlOld: fs.readFileSync(path.join(dir, 'crl-old.der')),
    crlNew: fs.readFileSync(path.join(dir, 'crl-new.der')),
    crlText: (f: string, opt: string) =>
      execFileSync('openssl', ['crl', '-in', f, '-inform', 'DER', '-noout', opt], { cwd: dir })
        .toString()
        .trim(),
  };
}

describe('certs: DER helpers', () => {
  it('parseAsn1Time: UTCTime (YY < 50 is 20YY) and GeneralizedTime', () => {
    assert.equal(parseAsn1Time('491231235959Z'), Date.UTC(2049, 11, 31, 23, 59, 59) / 1000);
    assert.equal(parseAsn1Time('500101000000Z'), Date.UTC(1950, 0, 1) / 1000);
    assert.equal(parseAsn1Time('20301231235959Z'), Date.UTC(2030, 11, 31, 23, 59, 59) / 1000);
    assert.equal(
      parseAsn1Time('99991231235959Z'.padStart(15, '9')),
      Date.UTC(9999, 11, 31, 23, 59, 59) / 1000,
    );
    assert.equal(parseAsn1Time('20301231235959.123Z'), Date.UTC(2030, 11, 31, 23, 59, 59) / 1000);
    for (const bad of ['', '2030', '20301231235959', '20301331000000Z', '20301231235959+0100'])
      assert.equal(parseAsn1Time(bad), undefined, bad);
  });

  it('formatSerial: lower-case bytes joined with colons, as swanctl shows them', () => {
    assert.equal(formatSerial('1'), '01');
    assert.equal(formatSerial('0A1B2C'), '0a:1b:2c');
    assert.equal(formatSerial('ABC'), '0a:bc');
  });

  it('parseCrl throws on anything that is not a CRL', () => {
    assert.throws(() => parseCrl(Buffer.from([0x30, 0x03, 0x02, 0x01, 0x00])));
    assert.throws(() => parseCrl(Buffer.from([0x30, 0x84, 0xff, 0xff, 0xff, 0xff])));
    assert.throws(() => parseCrl(Buffer.alloc(0)));
    assert.throws(() => parseCert(Buffer.from('not a certificate')));
  });
});

describe('collector certs', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'certs-test-'));
  const pki = makePki(dir);
  const fake = new FakeCharon();
  let reply: Reply = { response: {} };
  const cert = (message: Record<string, string | Buffer>) => ({ name: 'list-cert', message });
  before(async () => {
    fake.on('version', () => ({ response: VERSION_REPLY })).on('list-certs', () => reply);
    await fake.listenUnix();
  });
  after(async () => {
    await fake.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('parseCrl reads what openssl wrote: issuer, thisUpdate, nextUpdate', () => {
    const crl = parseCrl(pki.crlNew);
    assert.equal(crl.thisUpdate, Date.UTC(2026, 1, 1) / 1000);
    assert.equal(crl.nextUpdate, Date.UTC(2060, 0, 1) / 1000);
    assert.equal(
      crl.thisUpdate,
      Date.parse(pki.crlText('crl-new.der', '-lastupdate').split('=')[1] as string) / 1000,
    );
    assert.equal(
      crl.nextUpdate,
      Date.parse(pki.crlText('crl-new.der', '-nextupdate').split('=')[1] as string) / 1000,
    );
    // the issuer reads exactly like the subject of the CA certificate (same rendering, escapes included)
    assert.equal(crl.issuer, 'C=CH, O=Lab\\, Inc., CN=Test CA');
    assert.equal(crl.issuer, parseCert(pki.ca).subject);
    assert.equal(parseCrl(pki.crlOld).nextUpdate, Date.UTC(2026, 0, 8) / 1000);
  });

  it('writes validity per certificate, the newest CRL per issuer, counts, and skips what does not parse', async () => {
    reply = {
      events: [
        cert({ type: 'X509', flag: 'CA', data: pki.ca }),
        cert({ type: 'X509', flag: 'NONE', has_privkey: 'yes', data: pki.ee }),
        cert({ type: 'X509', flag: 'NONE', has_privkey: 'yes', data: pki.ee }), // listed twice
        cert({ type: 'X509', flag: 'NONE', data: Buffer.from('garbage') }),
        cert({ type: 'X509_CRL', data: pki.crlOld }),
        cert({ type: 'X509_CRL', data: pki.crlNew }),
        cert({ type: 'X509_CRL', data: Buffer.from([0x30, 0x00]) }),
        cert({
          type: 'PUBKEY',
          subject: 'raw@key',
          'not-before': '20260101000000Z',
          'not-after': '20361231235959Z',
          data: Buffer.from([0x30, 0x00]),
        }),
        cert({ type: 'PUBKEY', data: Buffer.from([0x30, 0x00]) }),
        cert({ type: 'X509_AC', data: Buffer.from('an attribute certificate') }),
      ],
      response: {},
    };
    const { p } = await scrapeFake(fake, [certs]);
    assert.equal(success(p, 'certs'), 1);

    const caSubject = 'C=CH, O=Lab\\, Inc., CN=Test CA';
    const ee = {
      type: 'X509',
      flag: 'NONE',
      subject: 'C=CH, O=sswlab test, CN=gw1.test',
      issuer: caSubject,
      serial: formatSerial(pki.eeSerial),
      has_privkey: 'true',
    };
    assert.equal(value(p, 'strongswan_cert_not_after_timestamp_seconds', ee), pki.eeEnd);
    assert.equal(value(p, 'strongswan_cert_not_before_timestamp_seconds', ee), pki.eeStart);
    assert.equal(pki.eeEnd - pki.eeStart, 30 * 86400);
    assert.match(ee.serial, /^[0-9a-f]{2}(:[0-9a-f]{2})+$/);
    const ca = select(p, 'strongswan_cert_not_after_timestamp_seconds', { flag: 'CA' });
    assert.equal(ca.length, 1);
    assert.deepEqual(
      {
        subject: ca[0]?.labels.subject,
        issuer: ca[0]?.labels.issuer,
        has_privkey: ca[0]?.labels.has_privkey,
      },
      { subject: caSubject, issuer: caSubject, has_privkey: 'false' },
    );
    // the X509 certificates: CA and end entity once each (the duplicate and the garbage are not there)
    assert.equal(select(p, 'strongswan_cert_not_after_timestamp_seconds', { type: 'X509' }).length, 2);

    const pub = {
      type: 'PUBKEY',
      flag: '',
      subject: 'raw@key',
      issuer: '',
      serial: '',
      has_privkey: 'false',
    };
    assert.equal(value(p, 'strongswan_cert_not_before_timestamp_seconds', pub), Date.UTC(2026, 0, 1) / 1000);
    assert.equal(
      value(p, 'strongswan_cert_not_after_timestamp_seconds', pub),
      Date.UTC(2036, 11, 31, 23, 59, 59) / 1000,
    );
    assert.equal(select(p, 'strongswan_cert_not_after_timestamp_seconds', { type: 'PUBKEY' }).length, 1);

    // the newer of the two CRLs of the one issuer
    assert.equal(
      value(p, 'strongswan_crl_this_update_timestamp_seconds', { issuer: caSubject }),
      Date.UTC(2026, 1, 1) / 1000,
    );
    assert.equal(
      value(p, 'strongswan_crl_next_update_timestamp_seconds', { issuer: caSubject }),
      Date.UTC(2060, 0, 1) / 1000,
    );
    assert.equal(select(p, 'strongswan_crl_next_update_timestamp_seconds').length, 1);

    const byType = (name: string) => Object.fromEntries(select(p, name).map((s) => [s.labels.type, s.value]));
    assert.deepEqual(byType('strongswan_certs'), { X509: 4, X509_CRL: 3, PUBKEY: 2, X509_AC: 1 });
    assert.deepEqual(byType('strongswan_certs_unparsable'), { X509: 1, X509_CRL: 1, PUBKEY: 0, X509_AC: 0 });
  });

  it('nothing listed: a success without series', async () => {
    reply = { response: {} };
    const { p } = await scrapeFake(fake, [certs]);
    assert.equal(success(p, 'certs'), 1);
    assert.equal(select(p, 'strongswan_certs').length, 0);
  });

  it('a daemon without list-certs fails this collector only', async () => {
    reply = 'unknown';
    const { p } = await scrapeFake(fake, [certs, version]);
    assert.equal(success(p, 'certs'), 0);
    assert.equal(success(p, 'version'), 1);
  });
});
