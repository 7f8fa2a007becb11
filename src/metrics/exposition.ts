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

export class Exposition {
  private readonly bodies = new Map<Family, string>();
  /** Number of samples written. */
  samples = 0;

  /**
   * Add a sample. `labels` is pre-rendered (`renderLabels`), '' for none. A string value must be a
   * decimal number (see `isDecimal`); numbers are formatted here.
   */
  sample(f: Family, labels: string, value: number | string): void {
    const line = `${f.name}${labels === '' ? '' : `{${labels}}`} ${typeof value === 'string' ? value : formatValue(value)}\n`;
    const body = this.bodies.get(f);
    this.bodies.set(f, body === undefined ? line : body + line);
    this.samples++;
  }

  /** Move every sample of another exposition into this one. */
  absorb(other: Exposition): void {
    for (const [f, body] of other.bodies) {
      const mine = this.bodies.get(f);
      this.bodies.set(f, mine === undefined ? body : mine + body);
    }
    this.samples += other.samples;
  }

  has(f: Family): boolean {
    return this.bodies.has(f);
  }

  /** Render every family that has samples, in definition order, with HELP and TYPE once each. */
  text(format: Format = 'prometheus'): string {
    const families = [...this.bodies.keys()].sort((a, b) => (ORDER.get(a) ?? 0) - (ORDER.get(b) ?? 0));
    let out = '';
    for (const f of families) {
      const typeName =
        format === 'openmetrics' && f.type === 'counter' ? f.name.replace(/_total$/, '') : f.name;
      out += `# HELP ${typeName} ${escapeHelp(f.help)}\n# TYPE ${typeName} ${f.type}\n`;
      out += this.bodies.get(f);
    }
    return out;
  }
}
