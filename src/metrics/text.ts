// The text formats' rules, as pure functions: label escaping, numbers, HELP/TYPE headers, and writing
// values into bytes. No state: every function gives the same bytes for the same input.

import type { Family } from './families.js';

export type Format = 'prometheus' | 'openmetrics';

export const CONTENT_TYPES: Readonly<Record<Format, string>> = {
  prometheus: 'text/plain; version=0.0.4; charset=utf-8',
  openmetrics: 'application/openmetrics-text; version=1.0.0; charset=utf-8',
};

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

/** `# HELP` and `# TYPE` of a family (OpenMetrics names a counter without its `_total`). */
export function header(f: Family, format: Format): Buffer {
  const name = format === 'openmetrics' && f.type === 'counter' ? f.name.replace(/_total$/, '') : f.name;
  const help = f.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
  return Buffer.from(`# HELP ${name} ${help}\n# TYPE ${name} ${f.type}\n`);
}

/** Room for a value: a decimal string of up to 23 characters, or any formatted float. */
export const VALUE_ROOM = 32;

/**
 * Write a value at `off`: a number as the text formats want it, or a decimal string (optional minus,
 * 1 to 23 digits) as it is. The offset after it, or -1 (nothing valid written) for a string that is
 * not one.
 */
export function writeValue(buf: Buffer, off: number, v: number | string): number {
  return typeof v === 'string' ? writeDecimal(buf, off, v) : writeNumber(buf, off, v);
}

function writeDecimal(buf: Buffer, off: number, v: string): number {
  const n = v.length;
  if (n === 0 || n >= 24) return -1;
  for (let i = 0; i < n; i++) {
    const c = v.charCodeAt(i);
    if (c < 48 || c > 57) {
      if (c !== 45 || i !== 0 || n === 1) return -1;
    }
    buf[off + i] = c;
  }
  return off + n;
}

function writeNumber(buf: Buffer, off: number, v: number): number {
  if (Number.isSafeInteger(v)) {
    if (v < 0) {
      buf[off++] = 45;
      v = -v;
    }
    let len = 1;
    for (let t = v; t >= 10; t = Math.floor(t / 10)) len++;
    let p = off + len;
    do {
      const q = Math.floor(v / 10);
      buf[--p] = 48 + (v - q * 10);
      v = q;
    } while (v > 0);
    return off + len;
  }
  const s = formatValue(v);
  for (let i = 0; i < s.length; i++) buf[off + i] = s.charCodeAt(i);
  return off + s.length;
}
