// Collector `certs`: certificates and CRLs the daemon knows (`list-certs`, one `list-cert` event each).
//
// - X509: validity, subject, issuer and serial parsed from the DER in `data` by crypto.X509Certificate.
//   subject and issuer are OpenSSL's one-line-per-RDN rendering (RFC 2253 escapes) joined with ", ",
//   e.g. `O=sswlab, CN=gw1.sswlab`; serial is lower-case hex bytes joined with ':' as swanctl shows it.
// - PUBKEY: `not-before` / `not-after` (GeneralizedTime text) when charon gives them; no issuer/serial.
// - X509_CRL: Node cannot parse CRLs, so a small DER walker reads the issuer, thisUpdate and nextUpdate
//   of the TBSCertList; per issuer, the newest CRL (latest thisUpdate) is written.
// - X509_AC, OCSP_RESPONSE: counted only.
// An entry that does not parse is skipped and counted in strongswan_certs_unparsable{type}, never an
// error of the collector. Private keys are never asked for: `has_privkey` is charon's flag. charon
// leaves any object over 64 KiB (a big CRL) out of the listing altogether.

import { X509Certificate } from 'node:crypto';
import type { LabelSet } from '../metrics/exposition.js';
import { F } from '../metrics/families.js';
import { str, type ViciSection } from '../vici/index.js';
import type { Collector } from './collector.js';

// ------------------------------------------------------------------------------------------ DER

interface Tlv {
  tag: number;
  /** Start and end of the contents. */
  start: number;
  end: number;
}

/** Read the TLV at `pos` (definite lengths only, as DER requires); throws on anything malformed. */
function tlv(b: Buffer, pos: number, limit: number): Tlv {
  if (pos + 2 > limit) throw new Error('DER: truncated');
  const tag = b[pos] as number;
  if ((tag & 0x1f) === 0x1f) throw new Error('DER: multi-byte tag');
  let len = b[pos + 1] as number;
  let start = pos + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || start + n > limit) throw new Error('DER: bad length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + (b[start + i] as number);
    start += n;
  }
  if (start + len > limit) throw new Error('DER: truncated');
  return { tag, start, end: start + len };
}

function children(b: Buffer, t: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let p = t.start; p < t.end; ) {
    const c = tlv(b, p, t.end);
    out.push(c);
    p = c.end;
  }
  return out;
}

const UTC_TIME = 0x17;
const GENERALIZED_TIME = 0x18;

/**
 * An ASN.1 time as seconds since the epoch: UTCTime `YYMMDDHHMMSSZ` (YY < 50 is 20YY, RFC 5280) or
 * GeneralizedTime `YYYYMMDDHHMMSS[.fff]Z`. undefined for anything else (local times, offsets).
 */
export function parseAsn1Time(text: string, utcTime = text.length === 13): number | undefined {
  const m = utcTime
    ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text)
    : /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.\d+)?Z$/.exec(text);
  if (m === null) return undefined;
  let year = Number(m[1]);
  if (utcTime) year += year < 50 ? 2000 : 1900;
  const [mo, d, h, mi, s] = [m[2], m[3], m[4], m[5], m[6]].map(Number) as [
    number,
    number,
    number,
    number,
    number,
  ];
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) return undefined;
  const date = new Date(0);
  date.setUTCFullYear(year, mo - 1, d);
  date.setUTCHours(h, mi, s, 0);
  return Math.floor(date.getTime() / 1000);
}

function timeAt(b: Buffer, t: Tlv): number | undefined {
  if (t.tag !== UTC_TIME && t.tag !== GENERALIZED_TIME) return undefined;
  return parseAsn1Time(b.toString('latin1', t.start, t.end), t.tag === UTC_TIME);
}

// OpenSSL's short names, so that a CRL issuer reads exactly like the subject of its CA certificate.
const ATTRIBUTE_NAMES: Record<string, string> = {
  '2.5.4.3': 'CN',
  '2.5.4.4': 'SN',
  '2.5.4.5': 'serialNumber',
  '2.5.4.6': 'C',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '2.5.4.9': 'street',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '2.5.4.12': 'title',
  '2.5.4.13': 'description',
  '2.5.4.17': 'postalCode',
  '2.5.4.41': 'name',
  '2.5.4.42': 'GN',
  '2.5.4.43': 'initials',
  '2.5.4.44': 'generationQualifier',
  '2.5.4.46': 'dnQualifier',
  '2.5.4.65': 'pseudonym',
  '2.5.4.97': 'organizationIdentifier',
  '1.2.840.113549.1.9.1': 'emailAddress',
  '0.9.2342.19200300.100.1.1': 'UID',
  '0.9.2342.19200300.100.1.25': 'DC',
};

function oid(b: Buffer, t: Tlv): string {
  const parts: number[] = [];
  let v = 0;
  for (let i = t.start; i < t.end; i++) {
    const x = b[i] as number;
    v = v * 128 + (x & 0x7f);
    if (!(x & 0x80)) {
      if (parts.length === 0) parts.push(v < 80 ? Math.floor(v / 40) : 2, v < 80 ? v % 40 : v - 80);
      else parts.push(v);
      v = 0;
    }
  }
  return parts.join('.');
}

function stringValue(b: Buffer, t: Tlv): string {
  const raw = b.subarray(t.start, t.end);
  switch (t.tag) {
    case 0x1e: // BMPString, UCS-2 big endian
      return Buffer.from(raw).swap16().toString('utf16le');
    case 0x1c: {
      // UniversalString, UCS-4 big endian
      let s = '';
      for (let i = 0; i + 3 < raw.length; i += 4) s += String.fromCodePoint(raw.readUInt32BE(i));
      return s;
    }
    case 0x14: // T61String: OpenSSL treats it as Latin-1
      return raw.toString('latin1');
    case 0x0c: // UTF8String
    case 0x13: // PrintableString
    case 0x16: // IA5String
    case 0x1a: // VisibleString
      return raw.toString('utf8');
    default:
      return `#${Buffer.from(b.subarray(t.start - 2, t.end)).toString('hex')}`;
  }
}

/** Escape an attribute value as OpenSSL does with ASN1_STRFLGS_ESC_2253 | ASN1_STRFLGS_ESC_CTRL. */
function escapeDnValue(v: string): string {
  let out = '';
  for (let i = 0; i < v.length; i++) {
    const c = v[i] as string;
    const code = c.charCodeAt(0);
    if (code < 0x20 || code === 0x7f) out += `\\${code.toString(16).toUpperCase().padStart(2, '0')}`;
    else if (',+"\\<>;'.includes(c)) out += `\\${c}`;
    else if ((i === 0 && (c === '#' || c === ' ')) || (i === v.length - 1 && c === ' ')) out += `\\${c}`;
    else out += c;
  }
  return out;
}

/** A Name (SEQUENCE OF RDN) as `C=CH, O=x, CN=y`: the format of crypto.X509Certificate's subject. */
function renderName(b: Buffer, name: Tlv): string {
  const rdns: string[] = [];
  for (const rdn of children(b, name)) {
    const avas: string[] = [];
    for (const ava of children(b, rdn)) {
      const [type, value] = children(b, ava);
      if (type === undefined || value === undefined || type.tag !== 0x06) throw new Error('DER: bad AVA');
      const o = oid(b, type);
      avas.push(`${ATTRIBUTE_NAMES[o] ?? o}=${escapeDnValue(stringValue(b, value))}`);
    }
    rdns.push(avas.join(' + '));
  }
  return rdns.join(', ');
}

export interface CrlDates {
  issuer: string;
  thisUpdate: number;
  nextUpdate: number | undefined;
}

/**
 * issuer, thisUpdate and nextUpdate of a DER CRL: CertificateList ::= SEQUENCE { tbsCertList
 * SEQUENCE { version INTEGER OPTIONAL, signature AlgorithmIdentifier, issuer Name, thisUpdate Time,
 * nextUpdate Time OPTIONAL, ... }, ... }. Throws when the DER is not shaped like that.
 */
export function parseCrl(der: Buffer): CrlDates {
  const outer = tlv(der, 0, der.length);
  if (outer.tag !== 0x30) throw new Error('CRL: not a SEQUENCE');
  const tbs = children(der, outer)[0];
  if (tbs === undefined || tbs.tag !== 0x30) throw new Error('CRL: no TBSCertList');
  const f = children(der, tbs);
  let i = 0;
  if (f[i]?.tag === 0x02) i++; // version
  if (f[i]?.tag !== 0x30) throw new Error('CRL: no signature algorithm');
  i++;
  const issuer = f[i++];
  if (issuer === undefined || issuer.tag !== 0x30) throw new Error('CRL: no issuer');
  const thisTlv = f[i++];
  const thisUpdate = thisTlv === undefined ? undefined : timeAt(der, thisTlv);
  if (thisUpdate === undefined) throw new Error('CRL: bad thisUpdate');
  const nextTlv = f[i];
  let nextUpdate: number | undefined;
  if (nextTlv !== undefined && (nextTlv.tag === UTC_TIME || nextTlv.tag === GENERALIZED_TIME)) {
    nextUpdate = timeAt(der, nextTlv);
    if (nextUpdate === undefined) throw new Error('CRL: bad nextUpdate');
  }
  return { issuer: renderName(der, issuer), thisUpdate, nextUpdate };
}

// ------------------------------------------------------------------------------------------ X.509

/** `0A1B2C` (OpenSSL's hex of the serial) as swanctl shows it: `0a:1b:2c`. */
export function formatSerial(hex: string): string {
  const h = hex.toLowerCase();
  const even = h.length % 2 === 1 ? `0${h}` : h;
  return even.replace(/(..)(?!$)/g, '$1:');
}

export interface CertInfo {
  subject: string;
  issuer: string;
  serial: string;
  notBefore: number;
  notAfter: number;
}

/** What the cert metrics need from a DER X.509 certificate; throws when Node cannot parse it. */
export function parseCert(der: Buffer): CertInfo {
  const c = new X509Certificate(der);
  const notBefore = Date.parse(c.validFrom);
  const notAfter = Date.parse(c.validTo);
  if (!Number.isFinite(notBefore) || !Number.isFinite(notAfter)) throw new Error('X.509: bad validity');
  return {
    subject: c.subject.split('\n').join(', '),
    issuer: c.issuer.split('\n').join(', '),
    serial: formatSerial(c.serialNumber),
    notBefore: Math.floor(notBefore / 1000),
    notAfter: Math.floor(notAfter / 1000),
  };
}

// ------------------------------------------------------------------------------------------ collector

const CERT_LABELS = F.certNotAfter.labels;
/** A certificate's DER stays bytes; the rest of each message is read as text. */
const CERT_BYTES: ReadonlySet<string> = new Set(['data']);

export const certs: Collector = {
  name: 'certs',
  help: 'Certificates, public keys and CRLs the daemon knows (list-certs): validity, CRL updates.',
  defaultEnabled: true,
  async collect(ctx, out) {
    const byType = new Map<string, number>();
    const unparsable = new Map<string, number>();
    const seen = new Set<string>();
    const crls = new Map<string, CrlDates>();
    const bump = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);

    const writeValidity = (values: string[], notBefore?: number, notAfter?: number) => {
      const key = values.join('\u0000');
      if (seen.has(key)) return; // the same labels twice would be an invalid exposition
      seen.add(key);
      const labels: LabelSet = out.labels(CERT_LABELS, values);
      if (notBefore !== undefined) out.write(F.certNotBefore, notBefore, labels);
      if (notAfter !== undefined) out.write(F.certNotAfter, notAfter, labels);
    };

    const onCert = (msg: ViciSection) => {
      const type = str(msg.type) ?? '';
      bump(byType, type);
      const data = msg.data;
      const hasPrivkey = str(msg.has_privkey) === 'yes' ? 'true' : 'false';
      // A peer's certificate (no private key here, not a CA/AA/OCSP signer) names a remote identity.
      const hide =
        ctx.options.hideRemoteIdentities && hasPrivkey === 'false' && (str(msg.flag) ?? 'NONE') === 'NONE';
      try {
        if (type === 'X509') {
          if (!Buffer.isBuffer(data)) throw new Error('no data');
          const c = parseCert(data);
          const labels = [type, str(msg.flag) ?? '', hide ? '' : c.subject, c.issuer, c.serial, hasPrivkey];
          writeValidity(labels, c.notBefore, c.notAfter);
        } else if (type === 'PUBKEY') {
          const nb = str(msg['not-before']);
          const na = str(msg['not-after']);
          const notBefore = nb === undefined ? undefined : parseAsn1Time(nb);
          const notAfter = na === undefined ? undefined : parseAsn1Time(na);
          if ((nb !== undefined && notBefore === undefined) || (na !== undefined && notAfter === undefined))
            throw new Error('bad not-before/not-after');
          if (notBefore === undefined && notAfter === undefined) return;
          const labels = [type, '', hide ? '' : (str(msg.subject) ?? ''), '', '', hasPrivkey];
          writeValidity(labels, notBefore, notAfter);
        } else if (type === 'X509_CRL') {
          if (!Buffer.isBuffer(data)) throw new Error('no data');
          const crl = parseCrl(data);
          const prev = crls.get(crl.issuer);
          if (prev === undefined || crl.thisUpdate > prev.thisUpdate) crls.set(crl.issuer, crl);
        }
      } catch {
        bump(unparsable, type);
      }
    };

    await ctx.stream('list-certs', undefined, onCert, CERT_BYTES);

    for (const [type, n] of byType) out.write(F.certs, n, null, type);
    for (const type of byType.keys()) out.write(F.certsUnparsable, unparsable.get(type) ?? 0, null, type);
    for (const crl of crls.values()) {
      out.write(F.crlThisUpdate, crl.thisUpdate, null, crl.issuer);
      if (crl.nextUpdate !== undefined) out.write(F.crlNextUpdate, crl.nextUpdate, null, crl.issuer);
    }
  },
};
