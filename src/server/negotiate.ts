// Content negotiation for /metrics: OpenMetrics 1.0.0 when the client prefers it, else text 0.0.4;
// and whether the client accepts gzip.

import type { Format } from '../metrics/exposition.js';

interface Ranged {
  type: string;
  q: number;
  version: string | undefined;
}

function parseAccept(header: string): Ranged[] {
  return header.split(',').map((part) => {
    const [type = '', ...params] = part.split(';').map((s) => s.trim().toLowerCase());
    let q = 1;
    let version: string | undefined;
    for (const p of params) {
      const [k, v] = p.split('=').map((s) => s.trim());
      if (k === 'q') q = Number(v) >= 0 && Number(v) <= 1 ? Number(v) : 0;
      if (k === 'version') version = v;
    }
    return { type, q, version };
  });
}

export function negotiateFormat(accept: string | undefined): Format {
  if (!accept) return 'prometheus';
  let om = -1;
  let text = -1;
  for (const r of parseAccept(accept)) {
    if (
      r.type === 'application/openmetrics-text' &&
      (r.version === undefined || r.version.startsWith('1.0') || r.version === '0.0.1')
    ) {
      om = Math.max(om, r.q);
    } else if (r.type === 'text/plain' || r.type === '*/*' || r.type === 'text/*') {
      text = Math.max(text, r.q);
    }
  }
  return om > 0 && om >= text ? 'openmetrics' : 'prometheus';
}

export function acceptsGzip(header: string | undefined): boolean {
  if (!header) return false;
  return parseAccept(header).some((r) => (r.type === 'gzip' || r.type === '*') && r.q > 0);
}
