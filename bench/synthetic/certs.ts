// Two real X.509 certificates for list-certs (a CA and an end-entity certificate it signed), made once
// with the openssl CLI in a temporary directory (Node 20 can parse certificates but not create them).

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface SyntheticCert {
  /** list-cert `flag`: NONE for end-entity certificates, CA for CAs. */
  flag: 'NONE' | 'CA';
  hasPrivkey: boolean;
  der: Buffer;
  /** The subject as swanctl prints it. */
  subject: string;
}

function pemToDer(pem: string): Buffer {
  const m = /-----BEGIN CERTIFICATE-----([\s\S]+?)-----END CERTIFICATE-----/.exec(pem);
  if (!m) throw new Error('openssl wrote no certificate');
  return Buffer.from((m[1] as string).replace(/\s+/g, ''), 'base64');
}

/** Make the certificates; throws when openssl is missing or fails. Takes some tens of ms. */
export function makeCerts(): SyntheticCert[] {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'synthetic-charon-certs-'));
  try {
    const run = (args: string[]) =>
      execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], timeout: 20_000 });
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
    run(
      ['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '3650'].concat([
        '-subj',
        '/C=CH/O=Example Corp/CN=Example Corp Root CA',
      ]),
    );
    run([
      'req',
      ...ec,
      '-keyout',
      'gw.key',
      '-out',
      'gw.csr',
      '-subj',
      '/C=CH/O=Example Corp/CN=vpn1.example.net',
    ]);
    fs.writeFileSync(
      path.join(dir, 'ext.cnf'),
      'subjectAltName=DNS:vpn1.example.net\nextendedKeyUsage=serverAuth,1.3.6.1.5.5.8.2.2\n',
    );
    run(
      ['x509', '-req', '-in', 'gw.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial'].concat([
        '-out',
        'gw.pem',
        '-days',
        '730',
        '-extfile',
        'ext.cnf',
      ]),
    );
    return [
      {
        flag: 'NONE',
        hasPrivkey: true,
        der: pemToDer(fs.readFileSync(path.join(dir, 'gw.pem'), 'utf8')),
        subject: 'C=CH, O=Example Corp, CN=vpn1.example.net',
      },
      {
        flag: 'CA',
        hasPrivkey: false,
        der: pemToDer(fs.readFileSync(path.join(dir, 'ca.pem'), 'utf8')),
        subject: 'C=CH, O=Example Corp, CN=Example Corp Root CA',
      },
    ];
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
