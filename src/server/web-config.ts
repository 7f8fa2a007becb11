// The exporter-toolkit web configuration file (`--web.config.file`), read unchanged: TLS, HTTP
// headers, basic auth users and a rate limit. Parsing is strict: an unknown key, a bad value or a
// cipher suite we cannot map is an error with the key's path, never silently ignored.

import fs from 'node:fs';
import path from 'node:path';
import type tls from 'node:tls';
import { parseDocument } from 'yaml';
import { parseDuration } from './duration.js';

export const CLIENT_AUTH_TYPES = [
  'NoClientCert',
  'RequestClientCert',
  'RequireAnyClientCert',
  'VerifyClientCertIfGiven',
  'RequireAndVerifyClientCert',
] as const;
export type ClientAuthType = (typeof CLIENT_AUTH_TYPES)[number];

const TLS_VERSIONS: Readonly<Record<string, tls.SecureVersion>> = {
  TLS10: 'TLSv1',
  TLS11: 'TLSv1.1',
  TLS12: 'TLSv1.2',
  TLS13: 'TLSv1.3',
};

/** Go/IANA cipher suite names (TLS 1.0-1.2; TLS 1.3 suites are not configurable) to OpenSSL names. */
export const CIPHER_SUITES: Readonly<Record<string, string>> = {
  TLS_RSA_WITH_AES_128_CBC_SHA: 'AES128-SHA',
  TLS_RSA_WITH_AES_256_CBC_SHA: 'AES256-SHA',
  TLS_RSA_WITH_AES_128_GCM_SHA256: 'AES128-GCM-SHA256',
  TLS_RSA_WITH_AES_256_GCM_SHA384: 'AES256-GCM-SHA384',
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA: 'ECDHE-ECDSA-AES128-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA: 'ECDHE-ECDSA-AES256-SHA',
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA: 'ECDHE-RSA-AES128-SHA',
  TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA: 'ECDHE-RSA-AES256-SHA',
  TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: 'ECDHE-RSA-AES128-GCM-SHA256',
  TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: 'ECDHE-ECDSA-AES128-GCM-SHA256',
  TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384: 'ECDHE-RSA-AES256-GCM-SHA384',
  TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384: 'ECDHE-ECDSA-AES256-GCM-SHA384',
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-RSA-CHACHA20-POLY1305',
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-ECDSA-CHACHA20-POLY1305',
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305: 'ECDHE-RSA-CHACHA20-POLY1305',
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305: 'ECDHE-ECDSA-CHACHA20-POLY1305',
};

const CURVES: Readonly<Record<string, string>> = {
  CurveP256: 'prime256v1',
  CurveP384: 'secp384r1',
  CurveP521: 'secp521r1',
  X25519: 'X25519',
};

/** The HTTP headers the toolkit allows in http_server_config.headers. */
export const ALLOWED_HEADERS = [
  'Cache-Control',
  'Content-Security-Policy',
  'Strict-Transport-Security',
  'X-Content-Type-Options',
  'X-Frame-Options',
  'X-XSS-Protection',
] as const;

export interface TlsConfig {
  cert: string;
  key: string;
  /** Files the TLS material came from (watched for reloads); empty for inline material. */
  files: string[];
  clientAuth: ClientAuthType;
  clientCa: string | undefined;
  clientAllowedSans: string[];
  minVersion: tls.SecureVersion;
  maxVersion: tls.SecureVersion;
  ciphers: string | undefined;
  ecdhCurve: string | undefined;
  honorCipherOrder: boolean;
}

export interface WebConfig {
  tls: TlsConfig | undefined;
  headers: Record<string, string>;
  /** user -> bcrypt hash */
  users: Map<string, string>;
  rateLimit: { intervalMs: number; burst: number } | undefined;
  http2: boolean;
}

export class WebConfigError extends Error {
  override name = 'WebConfigError';
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function strictKeys(o: Obj, where: string, allowed: readonly string[]): void {
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k))
      throw new WebConfigError(`${where}: unknown key "${k}" (allowed: ${allowed.join(', ')})`);
  }
}

function str(o: Obj, key: string, where: string): string | undefined {
  const v = o[key];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') throw new WebConfigError(`${where}.${key}: must be a string`);
  return v;
}

function strList(o: Obj, key: string, where: string): string[] {
  const v = o[key];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string'))
    throw new WebConfigError(`${where}.${key}: must be a list of strings`);
  return v as string[];
}

function readFile(file: string, base: string, what: string): string {
  const p = path.resolve(base, file);
  try {
    return fs.readFileSync(p, 'utf8');
  } catch (err) {
    throw new WebConfigError(
      `${what}: cannot read ${p}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
}

function parseTls(o: Obj, base: string): TlsConfig {
  const w = 'tls_server_config';
  strictKeys(o, w, [
    'cert_file',
    'key_file',
    'cert',
    'key',
    'client_auth_type',
    'client_ca_file',
    'client_ca',
    'client_allowed_sans',
    'min_version',
    'max_version',
    'cipher_suites',
    'prefer_server_cipher_suites',
    'curve_preferences',
  ]);
  const files: string[] = [];
  const material = (fileKey: string, inlineKey: string, required: boolean): string | undefined => {
    const file = str(o, fileKey, w);
    const inline = str(o, inlineKey, w);
    if (file && inline) throw new WebConfigError(`${w}: ${fileKey} and ${inlineKey} are mutually exclusive`);
    if (file) {
      files.push(path.resolve(base, file));
      return readFile(file, base, `${w}.${fileKey}`);
    }
    if (!inline && required) throw new WebConfigError(`${w}: ${fileKey} (or ${inlineKey}) is required`);
    return inline;
  };
  const cert = material('cert_file', 'cert', true) as string;
  const key = material('key_file', 'key', true) as string;
  const clientCa = material('client_ca_file', 'client_ca', false);
  const clientAuth = (str(o, 'client_auth_type', w) ??
    (clientCa ? 'RequireAndVerifyClientCert' : 'NoClientCert')) as ClientAuthType;
  if (!CLIENT_AUTH_TYPES.includes(clientAuth)) {
    throw new WebConfigError(
      `${w}.client_auth_type: "${clientAuth}" is not one of ${CLIENT_AUTH_TYPES.join(', ')}`,
    );
  }
  if (
    (clientAuth === 'VerifyClientCertIfGiven' || clientAuth === 'RequireAndVerifyClientCert') &&
    !clientCa
  ) {
    throw new WebConfigError(`${w}: client_auth_type ${clientAuth} needs client_ca_file`);
  }
  const version = (k: string, def: string): tls.SecureVersion => {
    const v = str(o, k, w) ?? def;
    const m = TLS_VERSIONS[v];
    if (!m)
      throw new WebConfigError(`${w}.${k}: "${v}" is not one of ${Object.keys(TLS_VERSIONS).join(', ')}`);
    return m;
  };
  const minVersion = version('min_version', 'TLS12');
  const maxVersion = version('max_version', 'TLS13');
  const order = Object.values(TLS_VERSIONS);
  if (order.indexOf(minVersion) > order.indexOf(maxVersion))
    throw new WebConfigError(`${w}: min_version is above max_version`);
  const suites = strList(o, 'cipher_suites', w);
  const ciphers = suites.map((s) => {
    const m = CIPHER_SUITES[s];
    if (!m) {
      throw new WebConfigError(
        `${w}.cipher_suites: "${s}" is not a TLS 1.2 suite this exporter can map to OpenSSL (TLS 1.3 suites are always on and not configurable)`,
      );
    }
    return m;
  });
  const curves = strList(o, 'curve_preferences', w).map((c) => {
    const m = CURVES[c];
    if (!m)
      throw new WebConfigError(
        `${w}.curve_preferences: "${c}" is not one of ${Object.keys(CURVES).join(', ')}`,
      );
    return m;
  });
  const prefer = o.prefer_server_cipher_suites;
  if (prefer !== undefined && typeof prefer !== 'boolean')
    throw new WebConfigError(`${w}.prefer_server_cipher_suites: must be true or false`);
  return {
    cert,
    key,
    files,
    clientAuth,
    clientCa,
    clientAllowedSans: strList(o, 'client_allowed_sans', w),
    minVersion,
    maxVersion,
    ciphers: ciphers.length ? ciphers.join(':') : undefined,
    ecdhCurve: curves.length ? curves.join(':') : undefined,
    honorCipherOrder: prefer !== false,
  };
}

const BCRYPT = /^\$2[abxy]?\$\d{2}\$[./A-Za-z0-9]{53}$/;

/** Parse and validate a web configuration from its text; `base` resolves relative file names. */
export function parseWebConfig(text: string, base: string): WebConfig {
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: false });
  if (doc.errors.length > 0)
    throw new WebConfigError(`invalid YAML: ${doc.errors[0]?.message.split('\n')[0]}`);
  const root = doc.toJS() as unknown;
  if (root === null || root === undefined)
    return { tls: undefined, headers: {}, users: new Map(), rateLimit: undefined, http2: false };
  if (!isObj(root)) throw new WebConfigError('the web configuration must be a YAML mapping');
  strictKeys(root, 'web config', [
    'tls_server_config',
    'http_server_config',
    'basic_auth_users',
    'rate_limit',
  ]);

  let tlsCfg: TlsConfig | undefined;
  if (root.tls_server_config !== undefined && root.tls_server_config !== null) {
    if (!isObj(root.tls_server_config)) throw new WebConfigError('tls_server_config: must be a mapping');
    tlsCfg = parseTls(root.tls_server_config, base);
  }

  const headers: Record<string, string> = {};
  let http2 = false;
  if (root.http_server_config !== undefined && root.http_server_config !== null) {
    const h = root.http_server_config;
    if (!isObj(h)) throw new WebConfigError('http_server_config: must be a mapping');
    strictKeys(h, 'http_server_config', ['http2', 'headers']);
    if (h.http2 !== undefined && typeof h.http2 !== 'boolean')
      throw new WebConfigError('http_server_config.http2: must be true or false');
    http2 = h.http2 === true;
    if (h.headers !== undefined && h.headers !== null) {
      if (!isObj(h.headers)) throw new WebConfigError('http_server_config.headers: must be a mapping');
      for (const [k, v] of Object.entries(h.headers)) {
        const canonical = ALLOWED_HEADERS.find((a) => a.toLowerCase() === k.toLowerCase());
        if (!canonical)
          throw new WebConfigError(
            `http_server_config.headers: "${k}" is not one of ${ALLOWED_HEADERS.join(', ')}`,
          );
        if (typeof v !== 'string' || /[\r\n]/.test(v))
          throw new WebConfigError(`http_server_config.headers.${k}: must be a one-line string`);
        headers[canonical] = v;
      }
    }
  }

  const users = new Map<string, string>();
  if (root.basic_auth_users !== undefined && root.basic_auth_users !== null) {
    if (!isObj(root.basic_auth_users))
      throw new WebConfigError('basic_auth_users: must be a mapping of user: bcrypt hash');
    for (const [user, hash] of Object.entries(root.basic_auth_users)) {
      if (typeof hash !== 'string' || !BCRYPT.test(hash)) {
        throw new WebConfigError(
          `basic_auth_users.${user}: not a bcrypt hash (make one with: htpasswd -nBC 10 "" | tr -d ':\\n')`,
        );
      }
      if (user.includes(':')) throw new WebConfigError(`basic_auth_users: user name "${user}" contains ':'`);
      users.set(user, hash);
    }
  }

  let rateLimit: WebConfig['rateLimit'];
  if (root.rate_limit !== undefined && root.rate_limit !== null) {
    const r = root.rate_limit;
    if (!isObj(r)) throw new WebConfigError('rate_limit: must be a mapping');
    strictKeys(r, 'rate_limit', ['interval', 'burst']);
    const burst = r.burst;
    if (typeof burst !== 'number' || !Number.isInteger(burst) || burst < 1)
      throw new WebConfigError('rate_limit.burst: must be a positive integer');
    let intervalMs: number;
    try {
      intervalMs = parseDuration(String(r.interval ?? ''));
    } catch (err) {
      throw new WebConfigError(`rate_limit.interval: ${(err as Error).message}`);
    }
    if (intervalMs <= 0) throw new WebConfigError('rate_limit.interval: must be positive');
    rateLimit = { intervalMs, burst };
  }
  return { tls: tlsCfg, headers, users, rateLimit, http2 };
}

export function loadWebConfig(file: string): WebConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new WebConfigError(
      `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
  return parseWebConfig(text, path.dirname(path.resolve(file)));
}

/** Node TLS options for a TLS config (client certificate policy per client_auth_type). */
export function tlsOptions(t: TlsConfig): tls.SecureContextOptions & tls.TlsOptions {
  const requestCert = t.clientAuth !== 'NoClientCert';
  return {
    cert: t.cert,
    key: t.key,
    ca: t.clientCa,
    minVersion: t.minVersion,
    maxVersion: t.maxVersion,
    ciphers: t.ciphers,
    ecdhCurve: t.ecdhCurve,
    honorCipherOrder: t.honorCipherOrder,
    requestCert,
    rejectUnauthorized: t.clientAuth === 'RequireAndVerifyClientCert',
  };
}
