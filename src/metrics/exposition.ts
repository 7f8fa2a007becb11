// The fast exposition path: collectors write samples straight into an Exposition while they walk a
// VICI reply (no per-sample objects), with label strings rendered once per SA. Samples of one family
// are kept together; text() renders the Prometheus text format 0.0.4 or OpenMetrics 1.0.0.

import { ALL_FAMILIES, type Family } from './families.js';

export type Format = 'prometheus' | 'openmetrics';

export const CONTENT_TYPES: Readonly<Record<Format, string>> = {
  prometheus: 'text/plain; version=0.0.4; charset=utf-8',
  openmetrics: 'application/openmetrics-text; version=1.0.0; charset=utf-8',
};

const ORDER = new Map<Family, number>(ALL_FAMILIES.map((f, i) => [f, i]));
const NEEDS_ESCAPE = /[\\"\n]/;

/** Escape a label value for the text formats (backslash, double quote, newline). */
export function escapeLabelValue(v: string): string {
  if (!NEEDS_ESCAPE.test(v)) return v;
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** Render `a="x",b="y"` (no braces) for the given names and values. */
export function renderLabels(names: readonly string[], values: readonly string[]): string {
  let s = '';
  for (let i = 0; i < names.length; i++) {
    if (i > 0) s += ',';
    s += `${names[i]}="${escapeLabelValue(values[i] ?? '')}"`;
  }
  return s;
}

/** A float as the text formats want it. */
export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Number.POSITIVE_INFINITY) return '+Inf';
  if (v === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(v);
}

const DECIMAL = /^-?\d+$/;

/** A value from the daemon that is already a decimal integer can be written as it is. */
export function isDecimal(s: string | undefined): s is string {
  return s !== undefined && s.length > 0 && s.length < 24 && DECIMAL.test(s);
}

function escapeHelp(h: string): string {
  return h.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** A string this long is turned into bytes, so that no scrape keeps millions of small strings alive. */
const FLUSH_CHARS = 1 << 13;

/** The samples of one family: finished byte chunks, plus the text not yet turned into bytes. */
class Body {
  readonly chunks: Buffer[] = [];
  pending = '';
  bytes = 0;

  add(line: string): void {
    this.pending += line;
    if (this.pending.length >= FLUSH_CHARS) this.flush();
  }

  flush(): void {
    if (this.pending === '') return;
    const b = Buffer.from(this.pending, 'utf8');
    this.chunks.push(b);
    this.bytes += b.length;
    this.pending = '';
  }
}

const HEADERS = new Map<string, Buffer>();

/** `# HELP` and `# TYPE` of a family, as bytes, made once per family and format. */
function header(f: Family, format: Format): Buffer {
  const key = `${format}\u0000${f.name}`;
  let h = HEADERS.get(key);
  if (h === undefined) {
    const typeName =
      format === 'openmetrics' && f.type === 'counter' ? f.name.replace(/_total$/, '') : f.name;
    h = Buffer.from(`# HELP ${typeName} ${escapeHelp(f.help)}\n# TYPE ${typeName} ${f.type}\n`);
    HEADERS.set(key, h);
  }
  return h;
}

export class Exposition {
  private readonly bodies = new Map<Family, Body>();
  /** Number of samples written. */
  samples = 0;

  private body(f: Family): Body {
    let b = this.bodies.get(f);
    if (b === undefined) {
      b = new Body();
      this.bodies.set(f, b);
    }
    return b;
  }

  /**
   * Add a sample. `labels` is pre-rendered (`renderLabels`), '' for none. A string value must be a
   * decimal number (see `isDecimal`); numbers are formatted here.
   */
  sample(f: Family, labels: string, value: number | string): void {
    const v = typeof value === 'string' ? value : formatValue(value);
    this.body(f).add(labels === '' ? `${f.name} ${v}\n` : `${f.name}{${labels}} ${v}\n`);
    this.samples++;
  }

  /** Move every sample of another exposition into this one. */
  absorb(other: Exposition): void {
    for (const [f, theirs] of other.bodies) {
      const mine = this.body(f);
      mine.flush();
      theirs.flush();
      mine.chunks.push(...theirs.chunks);
      mine.bytes += theirs.bytes;
    }
    this.samples += other.samples;
  }

  /**
   * Every family that has samples, in definition order, with HELP and TYPE once each, as byte chunks
   * to be written one after the other (no copy of the whole exposition is ever made).
   */
  render(format: Format = 'prometheus'): Buffer[] {
    const families = [...this.bodies.keys()].sort((a, b) => (ORDER.get(a) ?? 0) - (ORDER.get(b) ?? 0));
    const out: Buffer[] = [];
    for (const f of families) {
      const b = this.bodies.get(f) as Body;
      b.flush();
      out.push(header(f, format), ...b.chunks);
    }
    return out;
  }

  /** The same as one string (for tests and small expositions). */
  text(format: Format = 'prometheus'): string {
    return Buffer.concat(this.render(format)).toString('utf8');
  }
}
