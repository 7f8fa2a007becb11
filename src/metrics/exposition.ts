// The fast exposition path: collectors write samples straight into an Exposition while they walk a
// VICI reply (no per-sample objects, no string per line): label bytes are made once per SA and copied
// into each line, numbers are written digit by digit, all into 64 KiB chunks that are reused by the
// next scrape once a scrape's responses are written out. Samples of one family are kept together;
// render() gives the Prometheus text format 0.0.4 or OpenMetrics 1.0.0 as the chunks themselves.

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

/** Sizes of the byte chunks a family's samples are written into: small first, then up to 64 KiB. */
const FIRST_CHUNK = 1 << 10;
const MAX_CHUNK = 1 << 16;
const EMPTY = Buffer.alloc(0);

/**
 * Full-size chunks of expositions that are done with (see `recycle`), reused by the next scrapes:
 * a big scrape then allocates no new memory for its 90 MB of text, and the garbage collector is not
 * pushed into a full collection by the last scrape's chunks. Only chunks made here are taken back.
 */
const OWN_CHUNKS = new WeakSet<ArrayBuffer>();
const FREE_CHUNKS: ArrayBuffer[] = [];
/** The free list keeps at most twice the chunks of the last recycled exposition (and at least this). */
const MIN_FREE_CHUNKS = 16;

function newChunk(size: number): Buffer {
  if (size === MAX_CHUNK) {
    const free = FREE_CHUNKS.pop();
    if (free !== undefined) return Buffer.from(free);
  }
  const b = Buffer.allocUnsafeSlow(size);
  if (size === MAX_CHUNK) OWN_CHUNKS.add(b.buffer as ArrayBuffer);
  return b;
}

/** Chunks waiting to be reused (for tests). */
export function freeChunks(): number {
  return FREE_CHUNKS.length;
}

/**
 * The samples of one family, as bytes: finished chunks plus the one being written. Lines are written
 * straight into the chunk (label bytes copied, numbers written digit by digit), so that a scrape of
 * a million series makes no string per line and keeps no small strings alive.
 */
class Body {
  readonly chunks: Buffer[] = [];
  buf: Buffer = EMPTY;
  off = 0;
  private next = FIRST_CHUNK;

  /** Make room for `n` more bytes in the current chunk. */
  room(n: number): void {
    if (this.off + n <= this.buf.length) return;
    this.seal();
    const size = Math.max(n, this.next);
    if (this.next < MAX_CHUNK) this.next *= 4;
    this.buf = newChunk(size);
  }

  /** Finish what was written so far as a chunk; the rest of the buffer stays for what follows. */
  seal(): void {
    if (this.off === 0) return;
    this.chunks.push(this.buf.subarray(0, this.off));
    this.buf = this.buf.subarray(this.off);
    this.off = 0;
  }

  /** Write a string (any UTF-8); the caller made room for it (3 bytes per UTF-16 unit). */
  text(s: string): void {
    this.off += utf8Write(this.buf, s, this.off);
  }

  /** Write bytes. */
  bytes(b: Uint8Array): void {
    this.buf.set(b, this.off);
    this.off += b.length;
  }

  /**
   * End a line after its labels: `} VALUE\n`. A string value must be a decimal number (see
   * `writeDecimal`); for one that is not, nothing is written and false is returned.
   */
  end(value: number | string): boolean {
    const buf = this.buf;
    let off = this.off;
    buf[off++] = 0x7d; // }
    buf[off++] = 0x20;
    off = typeof value === 'string' ? writeDecimal(buf, off, value) : writeNumber(buf, off, value);
    if (off < 0) return false;
    buf[off++] = 0x0a;
    this.off = off;
    return true;
  }
}

/** Buffer's own UTF-8 writer, without write()'s argument parsing (room is made by the caller). */
const utf8Write = (buf: Buffer, s: string, off: number): number =>
  (buf as unknown as { utf8Write(s: string, off: number, len: number): number }).utf8Write(
    s,
    off,
    buf.length - off,
  );

/** `name{` of a family, as bytes. */
const OPEN = new Map<Family, Buffer>();
function open(f: Family): Buffer {
  let b = OPEN.get(f);
  if (b === undefined) {
    b = Buffer.from(`${f.name}{`);
    OPEN.set(f, b);
  }
  return b;
}

/** Label bytes (`a="x",b="y"`, no braces) made once and written into many lines (see `put`). */
export function labelBytes(labels: string): Buffer {
  return Buffer.from(labels, 'utf8');
}

/** Room for a value: a decimal string of up to 23 characters, or any formatted float. */
const VALUE_ROOM = 32;

/**
 * Write a decimal string (optional minus, 1 to 23 digits) at `off`; the offset after it, or -1
 * (nothing valid written) when the string is not one.
 */
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

/** Write a number as the text formats want it at `off`; the offset after it. */
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
  private recycled = false;

  private body(f: Family): Body {
    if (this.recycled) throw new Error('exposition used after recycle()');
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
    const b = this.body(f);
    this.samples++;
    if (labels === '') {
      const line = `${f.name} ${typeof value === 'string' ? value : formatValue(value)}\n`;
      b.room(line.length * 3);
      b.text(line);
      return;
    }
    const head = open(f);
    const room = head.length + labels.length * 3 + 3;
    if (typeof value !== 'string') {
      b.room(room + VALUE_ROOM);
      b.bytes(head);
      b.text(labels);
      b.end(value);
      return;
    }
    b.room(room + value.length * 3);
    b.bytes(head);
    b.text(labels);
    b.text(`} ${value}\n`);
  }

  /**
   * Add a sample from label bytes (`labelBytes`) and an optional suffix of more label bytes (a
   * constant such as `,direction="in"`). A string value is written only when it is a decimal number
   * (optional minus, up to 23 digits); otherwise nothing is written and false is returned.
   */
  put(f: Family, labels: Uint8Array, suffix: Uint8Array | null, value: number | string): boolean {
    const b = this.body(f);
    const head = open(f);
    b.room(head.length + labels.length + (suffix === null ? 0 : suffix.length) + VALUE_ROOM + 3);
    const start = b.off;
    b.bytes(head);
    b.bytes(labels);
    if (suffix !== null) b.bytes(suffix);
    if (!b.end(value)) {
      b.off = start;
      return false;
    }
    this.samples++;
    return true;
  }

  /** Move every sample of another exposition into this one. */
  absorb(other: Exposition): void {
    for (const [f, theirs] of other.bodies) {
      const mine = this.body(f);
      mine.seal();
      theirs.seal();
      for (const c of theirs.chunks) mine.chunks.push(c);
    }
    this.samples += other.samples;
  }

  /**
   * Give this exposition's chunks back for reuse. Only when nothing will read them again: every
   * response made from them has been written out. The exposition is empty and unusable afterwards.
   */
  recycle(): void {
    if (this.recycled) return;
    this.recycled = true;
    const buffers = new Set<ArrayBuffer>();
    for (const b of this.bodies.values()) {
      for (const c of b.chunks) buffers.add(c.buffer as ArrayBuffer);
      buffers.add(b.buf.buffer as ArrayBuffer);
    }
    this.bodies.clear();
    let given = 0;
    for (const ab of buffers) {
      if (!OWN_CHUNKS.has(ab)) continue;
      FREE_CHUNKS.push(ab);
      given++;
    }
    const keep = Math.max(MIN_FREE_CHUNKS, 2 * given);
    if (FREE_CHUNKS.length > keep) FREE_CHUNKS.length = keep;
  }

  /**
   * Every family that has samples, in definition order, with HELP and TYPE once each, as byte chunks
   * to be written one after the other (no copy of the whole exposition is ever made).
   */
  render(format: Format = 'prometheus'): Buffer[] {
    if (this.recycled) throw new Error('exposition used after recycle()');
    const families = [...this.bodies.keys()].sort((a, b) => (ORDER.get(a) ?? 0) - (ORDER.get(b) ?? 0));
    const out: Buffer[] = [];
    for (const f of families) {
      const b = this.bodies.get(f) as Body;
      b.seal();
      out.push(header(f, format));
      for (const c of b.chunks) out.push(c);
    }
    return out;
  }

  /** The same as one string (for tests and small expositions). */
  text(format: Format = 'prometheus'): string {
    return Buffer.concat(this.render(format)).toString('utf8');
  }
}
