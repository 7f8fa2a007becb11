// A throwaway self-signed certificate (EC P-256, 2 days) for TLS tests, made with openssl.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/** Write key.pem and cert.pem (CN=localhost) into `dir`; returns the certificate PEM. */
export function selfSignedCert(dir: string, subjectAltName = 'DNS:localhost,IP:127.0.0.1'): string {
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      'key.pem',
      '-out',
      'cert.pem',
      '-days',
      '2',
      '-subj',
      '/CN=localhost',
      '-addext',
      `subjectAltName=${subjectAltName}`,
    ],
    { cwd: dir, stdio: 'ignore' },
  );
  return fs.readFileSync(path.join(dir, 'cert.pem'), 'utf8');
}
