// Encoding for the synthetic daemon. A message is described once, through a Sink (key/values, sections,
// lists, and "dynamic" numbers that are a linear function of the elapsed second s: a + b*s, or
// floor((a + b*s) / c) for packet counts). Two sinks consume the same description:
//   - EvalWriter encodes it for one second s (events, small replies);
//   - TemplateCompiler turns it into a Template: the static bytes with cut points where the numbers go,
//     so that a listing of 50,000 IKE SAs is rendered by copying bytes and writing digits, without
//     building any object per key.
// Element codes and limits are VICI's (see src/vici/codec.ts); the frame header is included in templates.

export const SECTION_START = 1;
export const SECTION_END = 2;
export const KEY_VALUE = 3;
export const LIST_START = 4;
export const LIST_ITEM = 5;
export const LIST_END = 6;

export const PACKET_CMD_RESPONSE = 1;
export const PACKET_CMD_UNKNOWN = 2;
export const PACKET_EVENT_CONFIRM = 5;
export const PACKET_EVENT_UNKNOWN = 6;
export const PACKET_EVENT = 7;

export interface Sink {
  kv(name: string, value: string | Buffer): void;
  /** A decimal value that depends on the second: a + b*s, or floor((a + b*s) / c) when c > 1. */
  dyn(name: string, a: number, b: number, c?: number): void;
  sec(name: string): void;
  end(): void;
  list(name: string, items: readonly string[]): void;
}

const nameCache = new Map<string, Buffer>();
function nameBytes(s: string): Buffer {
  let b = nameCache.get(s);
  if (b === undefined) {
    b = Buffer.from(s, 'utf8');
    if (b.length > 255) throw new Error(`vici name longer than 255 bytes: ${s.slice(0, 40)}...`);
    if (nameCache.size < 100_000) nameCache.set(s, b);
  }
  return b;
}

/** Value of a dynamic number at second s. */
export function dynValue(a: number, b: number, c: number, s: number): number {
  const v = a + b * s;
  return c > 1 ? Math.floor(v / c) : v;
}

/** A growable byte buffer. */
export class ByteWriter {
  buf: Buffer;
  length = 0;
  constructor(initial = 1024) {
    this.buf = Buffer.allocUnsafe(initial);
  }
  ensure(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.length + n));
    this.buf.copy(next, 0, 0, this.length);
    this.buf = next;
  }
  byte(b: number): void {
    this.ensure(1);
    this.buf[this.length++] = b;
  }
  bytes(b: Buffer): void {
    this.ensure(b.length);
    b.copy(this.buf, this.length);
    this.length += b.length;
  }
  name(s: string): void {
    const b = nameBytes(s);
    this.byte(b.length);
    this.bytes(b);
  }
  value(v: string | Buffer): void {
    const b = typeof v === 'string' ? Buffer.from(v, 'utf8') : v;
    if (b.length > 65_535) throw new Error('vici value longer than 65535 bytes');
    this.ensure(2 + b.length);
    this.buf.writeUInt16BE(b.length, this.length);
    this.length += 2;
    this.bytes(b);
  }
  result(): Buffer {
    return this.buf.subarray(0, this.length);
  }
}

/** Encodes a described message for one second s. */
export class EvalWriter implements Sink {
  readonly w = new ByteWriter();
  constructor(private readonly s: number) {}
  kv(name: string, value: string | Buffer): void {
    this.w.byte(KEY_VALUE);
    this.w.name(name);
    this.w.value(value);
  }
  dyn(name: string, a: number, b: number, c = 1): void {
    this.kv(name, String(dynValue(a, b, c, this.s)));
  }
  sec(name: string): void {
    this.w.byte(SECTION_START);
    this.w.name(name);
  }
  end(): void {
    this.w.byte(SECTION_END);
  }
  list(name: string, items: readonly string[]): void {
    this.w.byte(LIST_START);
    this.w.name(name);
    for (const it of items) {
      this.w.byte(LIST_ITEM);
      this.w.value(it);
    }
    this.w.byte(LIST_END);
  }
  result(): Buffer {
    return this.w.result();
  }
}

/** Wrap a message into a whole frame (header included) of a server packet. */
export function serverFrame(type: number, name: string | undefined, message?: Buffer): Buffer {
  const n = name === undefined ? undefined : nameBytes(name);
  const msgLen = message?.length ?? 0;
  const dataLen = 1 + (n ? 1 + n.length : 0) + msgLen;
  const out = Buffer.allocUnsafe(4 + dataLen);
  out.writeUInt32BE(dataLen, 0);
  out[4] = type;
  let pos = 5;
  if (n) {
    out[pos++] = n.length;
    n.copy(out, pos);
    pos += n.length;
  }
  if (message) message.copy(out, pos);
  return out;
}

/**
 * A pre-encoded EVENT frame with holes for the dynamic numbers: `bytes` holds the static parts (frame
 * header with a placeholder length, packet type, event name, message elements); slot i goes at
 * cuts[i], where the static bytes end with the key's `03 len name` and the value (u16 length + digits)
 * is inserted at render time.
 */
export interface Template {
  readonly bytes: Buffer;
  readonly cuts: Int32Array;
  /** a, b, c per slot. */
  readonly params: Float64Array;
}

/** Largest rendered size of one slot: u16 length + sign + 16 digits. */
export const SLOT_MAX = 2 + 1 + 16;

export class TemplateCompiler implements Sink {
  private readonly w = new ByteWriter(2048);
  private readonly cuts: number[] = [];
  private readonly params: number[] = [];

  constructor(event: string) {
    this.w.ensure(4);
    this.w.length = 4; // frame length, written at render time
    this.w.byte(PACKET_EVENT);
    this.w.name(event);
  }
  kv(name: string, value: string | Buffer): void {
    this.w.byte(KEY_VALUE);
    this.w.name(name);
    this.w.value(value);
  }
  dyn(name: string, a: number, b: number, c = 1): void {
    this.w.byte(KEY_VALUE);
    this.w.name(name);
    this.cuts.push(this.w.length);
    this.params.push(a, b, c);
  }
  sec(name: string): void {
    this.w.byte(SECTION_START);
    this.w.name(name);
  }
  end(): void {
    this.w.byte(SECTION_END);
  }
  list(name: string, items: readonly string[]): void {
    this.w.byte(LIST_START);
    this.w.name(name);
    for (const it of items) {
      this.w.byte(LIST_ITEM);
      this.w.value(it);
    }
    this.w.byte(LIST_END);
  }
  finish(): Template {
    return {
      bytes: Buffer.from(this.w.result()),
      cuts: Int32Array.from(this.cuts),
      params: Float64Array.from(this.params),
    };
  }
}

/** Write an integer (|n| < 2^53) as decimal ASCII at pos; returns the new position. */
export function writeInt(buf: Buffer, pos: number, n: number): number {
  if (n < 0) {
    buf[pos++] = 45;
    n = -n;
  }
  if (n < 10) {
    buf[pos] = 48 + n;
    return pos + 1;
  }
  let len = 1;
  for (let t = n; t >= 10; t = Math.floor(t / 10)) len++;
  let p = pos + len;
  while (n >= 10) {
    const q = Math.floor(n / 10);
    buf[--p] = 48 + (n - q * 10);
    n = q;
  }
  buf[--p] = 48 + n;
  return pos + len;
}

function copyBytes(src: Buffer, from: number, to: number, dst: Buffer, pos: number): void {
  const n = to - from;
  if (n > 16) {
    src.copy(dst, pos, from, to);
    return;
  }
  for (let i = 0; i < n; i++) dst[pos + i] = src[from + i] as number;
}

/** Upper bound of a template's rendered size. */
export function templateMaxSize(t: Template): number {
  return t.bytes.length + t.cuts.length * SLOT_MAX;
}

/** Render a template for second s into out at pos (out must have templateMaxSize bytes); returns the end. */
export function renderTemplate(t: Template, s: number, out: Buffer, pos: number): number {
  const start = pos;
  const src = t.bytes;
  const cuts = t.cuts;
  const params = t.params;
  let from = 0;
  for (let i = 0; i < cuts.length; i++) {
    const cut = cuts[i] as number;
    copyBytes(src, from, cut, out, pos);
    pos += cut - from;
    from = cut;
    const a = params[3 * i] as number;
    const b = params[3 * i + 1] as number;
    const c = params[3 * i + 2] as number;
    let v = a + b * s;
    if (c > 1) v = Math.floor(v / c);
    const digitsAt = pos + 2;
    const end = writeInt(out, digitsAt, v);
    const len = end - digitsAt;
    out[pos] = len >>> 8;
    out[pos + 1] = len & 0xff;
    pos = end;
  }
  copyBytes(src, from, src.length, out, pos);
  pos += src.length - from;
  out.writeUInt32BE(pos - start - 4, start);
  return pos;
}
