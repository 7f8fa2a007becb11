// Message codec: the flat element stream of a VICI message <-> a section tree.
// Wire shape (one element after another, root section implicit, runs to the end of the packet):
//   1 SECTION_START name8 | 2 SECTION_END | 3 KEY_VALUE name8 value16 | 4 LIST_START name8
//   5 LIST_ITEM value16   | 6 LIST_END
// name8 = u8 length + bytes (0..255, may be empty); value16 = u16 BE length + bytes (0..65535).
// The decoder throws only ViciProtocolError; the encoder only ViciEncodeError.

import { isAscii } from 'node:buffer';
import { ViciEncodeError, ViciProtocolError } from './errors.js';
import {
  newSection,
  type ViciInput,
  type ViciInputValue,
  type ViciSection,
  type ViciValue,
} from './message.js';

export const SECTION_START = 1;
export const SECTION_END = 2;
export const KEY_VALUE = 3;
export const LIST_START = 4;
export const LIST_ITEM = 5;
export const LIST_END = 6;

export const MAX_NAME_BYTES = 255;
export const MAX_VALUE_BYTES = 65_535;

export interface DecodeOptions {
  /** Decode values as UTF-8 strings instead of Buffers (faster to consume). Default false. */
  text?: boolean;
  /** With `text`, these keys still decode as Buffers (e.g. `data` of list-cert, which is DER). */
  binaryKeys?: ReadonlySet<string>;
  /**
   * Decode only what this shape names and skip the rest without making strings of it (the input is
   * still checked in full). Default: everything.
   */
  select?: Shape;
}

/**
 * What to keep of a message: at each level, a name (or `*` for any name not listed) maps to `true`
 * (keep the value, list or whole section) or to the shape of the section below. Unnamed entries are
 * skipped.
 */
export interface Shape {
  readonly [name: string]: Shape | true;
}

const NO_KEYS: ReadonlySet<string> = new Set();

/** Buffer's own UTF-8 slicer, without the argument checks of toString() (bounds are checked here). */
const utf8 = (buf: Buffer, start: number, end: number): string =>
  (buf as unknown as { utf8Slice(s: number, e: number): string }).utf8Slice(start, end);

/** Buffer's own Latin-1 slicer (one byte, one character): for text known to be ASCII. */
const latin1 = (buf: Buffer, start: number, end: number): string =>
  (buf as unknown as { latin1Slice(s: number, e: number): string }).latin1Slice(start, end);

/**
 * Most values are short (`INSTALLED`, `3`, `9223375`), and a native call per value to decode it costs
 * more than the decoding. A message of ASCII text (nearly all are) is made one string at once, and a
 * short value or name is cut from it (a copy in V8: SHORT_SLICE is below the length from which
 * substrings keep their parent alive, so a kept value never holds the whole message). Longer ones
 * and every message with a byte >= 0x80 are decoded as UTF-8 one by one.
 */
const SHORT_SLICE = 13;
const WHOLE_MIN = 256;

/**
 * Key names repeat in every message (`bytes-in`, `state`, ...): decoding them once and handing out the
 * same string saves an allocation and a native call per element. A small direct-mapped cache, checked
 * byte by byte, so a collision only costs a miss. Section names (connection names, SA names) vary and
 * are not cached.
 */
const KEY_SLOTS = 1024;
const keyCache: ({ bytes: Buffer; text: string } | undefined)[] = new Array(KEY_SLOTS);

function decodeKey(buf: Buffer, pos: number, len: number): string {
  if (len === 0) return '';
  if (len > 32) return utf8(buf, pos, pos + len);
  let h = len;
  for (let i = 0; i < len; i++) h = (Math.imul(h, 31) + (buf[pos + i] as number)) | 0;
  const slot = h & (KEY_SLOTS - 1);
  const e = keyCache[slot];
  if (e !== undefined && e.bytes.length === len) {
    let i = 0;
    while (i < len && e.bytes[i] === buf[pos + i]) i++;
    if (i === len) return e.text;
  }
  const text = utf8(buf, pos, pos + len);
  keyCache[slot] = { bytes: Buffer.from(buf.subarray(pos, pos + len)), text };
  return text;
}

/** Decode the message in buf[start, end). Empty input is the empty message. */
export function decodeMessage(
  buf: Buffer,
  start = 0,
  end = buf.length,
  opts: DecodeOptions = {},
): ViciSection {
  const text = opts.text === true;
  const binaryKeys = opts.binaryKeys ?? NO_KEYS;
  const root = newSection();
  const stack: ViciSection[] = [root];
  let current = root;
  let list: ViciValue[] | null = null;
  let pos = start;
  const whole =
    text && end - start >= WHOLE_MIN && isAscii(buf.subarray(start, end)) ? latin1(buf, start, end) : '';
  const str = (from: number, len: number): string =>
    len < SHORT_SLICE && whole !== ''
      ? whole.substring(from - start, from - start + len)
      : utf8(buf, from, from + len);
  // With `select`: the shape of the current section (true: keep all).
  const shapes: (Compiled | true)[] = [opts.select === undefined ? true : compile(opts.select)];
  let shape: Compiled | true = shapes[0] as Compiled | true;

  const fail = (what: string): never => {
    throw new ViciProtocolError(`malformed message: ${what} at offset ${pos - start}`);
  };
  const readName = (isKey = false): string => {
    if (pos >= end) fail('truncated name length');
    const len = buf[pos++] as number;
    if (pos + len > end) fail('name runs past the end');
    const name = isKey ? decodeKey(buf, pos, len) : len === 0 ? '' : str(pos, len);
    pos += len;
    return name;
  };
  // What `select` leaves out is checked as it is passed, and nothing of it kept: one loop each, as
  // most of a list-conns reply is skipped. Same checks and messages as reading.
  const failAt = (at: number, what: string): never => {
    pos = at;
    return fail(what);
  };
  const passName = (p: number): number => {
    if (p >= end) failAt(p, 'truncated name length');
    const q = p + 1 + (buf[p] as number);
    if (q > end) failAt(p + 1, 'name runs past the end');
    return q;
  };
  const passValue = (p: number): number => {
    if (p + 2 > end) failAt(p, 'truncated value length');
    const q = p + 2 + (((buf[p] as number) << 8) | (buf[p + 1] as number));
    if (q > end) failAt(p + 2, 'value runs past the end');
    return q;
  };
  const skipList = (): void => {
    let p = pos;
    for (;;) {
      if (p >= end) failAt(p, 'list not closed');
      const type = buf[p++];
      if (type === LIST_END) break;
      if (type !== LIST_ITEM) failAt(p, `element type ${type} inside a list`);
      p = passValue(p);
    }
    pos = p;
  };
  const skipSection = (): void => {
    let depth = 1;
    let p = pos;
    while (depth > 0) {
      if (p >= end) failAt(p, `${stack.length - 1 + depth} section(s) not closed`);
      const type = buf[p++] as number;
      if (type === KEY_VALUE) p = passValue(passName(p));
      else if (type === SECTION_START) {
        p = passName(p);
        depth++;
      } else if (type === SECTION_END) depth--;
      else if (type === LIST_START) {
        pos = passName(p);
        skipList();
        p = pos;
      } else {
        pos = p;
        fail(
          type === LIST_ITEM
            ? 'list item outside a list'
            : type === LIST_END
              ? 'list end outside a list'
              : `unknown element type ${type}`,
        );
      }
    }
    pos = p;
  };
  const readValue = (asText: boolean): ViciValue => {
    if (pos + 2 > end) fail('truncated value length');
    const len = ((buf[pos] as number) << 8) | (buf[pos + 1] as number);
    pos += 2;
    if (pos + len > end) fail('value runs past the end');
    const v = asText ? str(pos, len) : Buffer.from(buf.subarray(pos, pos + len));
    pos += len;
    return v;
  };

  while (pos < end) {
    const type = buf[pos++];
    if (list !== null && type !== LIST_ITEM && type !== LIST_END) fail(`element type ${type} inside a list`);
    switch (type) {
      case SECTION_START: {
        const name = readName();
        if (shape !== true) {
          const sub = pick(shape, name);
          if (sub === undefined) {
            skipSection();
            break;
          }
          shapes.push(sub);
          shape = sub;
        } else if (opts.select !== undefined) {
          shapes.push(true);
        }
        const sec = newSection();
        const prev = current[name];
        if (prev === undefined || !isSectionLike(prev)) current[name] = sec;
        else if (Array.isArray(prev)) (prev as ViciSection[]).push(sec);
        else current[name] = [prev as ViciSection, sec];
        stack.push(sec);
        current = sec;
        break;
      }
      case SECTION_END:
        if (stack.length <= 1) fail('section end at root level');
        stack.pop();
        current = stack[stack.length - 1] as ViciSection;
        if (opts.select !== undefined) {
          shapes.pop();
          shape = shapes[shapes.length - 1] as Compiled | true;
        }
        break;
      case KEY_VALUE: {
        const name = readName(true);
        if (shape !== true && pick(shape, name) === undefined) {
          pos = passValue(pos);
          break;
        }
        current[name] = readValue(text && !binaryKeys.has(name));
        break;
      }
      case LIST_START: {
        const name = readName(true);
        if (shape !== true && pick(shape, name) === undefined) {
          skipList();
          break;
        }
        list = [];
        current[name] = list;
        break;
      }
      case LIST_ITEM:
        if (list === null) fail('list item outside a list');
        (list as ViciValue[]).push(readValue(text));
        break;
      case LIST_END:
        if (list === null) fail('list end outside a list');
        list = null;
        break;
      default:
        fail(`unknown element type ${type}`);
    }
  }
  if (list !== null) fail('list not closed');
  if (stack.length !== 1) fail(`${stack.length - 1} section(s) not closed`);
  return root;
}

/**
 * A shape made ready for lookups: its names in a Map (a key string from the decoder's cache keeps its
 * hash, where `Object.hasOwn` on the shape cost a fifth of decoding list-conns), and what `*` says.
 * Own properties only: `constructor` is not a key we keep.
 */
interface Compiled {
  readonly names: Map<string, Compiled | true>;
  any: Compiled | true | undefined;
}

const compiledShapes = new WeakMap<Shape, Compiled>();

/** Compiled once per shape object; a shape that names itself (to keep every level) compiles too. */
function compile(shape: Shape): Compiled {
  let c = compiledShapes.get(shape);
  if (c !== undefined) return c;
  const names = new Map<string, Compiled | true>();
  c = { names, any: undefined };
  compiledShapes.set(shape, c);
  for (const name of Object.keys(shape)) {
    const sub = shape[name] as Shape | true;
    names.set(name, sub === true ? true : compile(sub));
  }
  c.any = names.get('*');
  return c;
}

/** What a shape says about `name`. */
function pick(shape: Compiled, name: string): Compiled | true | undefined {
  const sub = shape.names.get(name);
  return sub !== undefined ? sub : shape.any;
}

function isSectionLike(e: unknown): boolean {
  if (Array.isArray(e)) return e.length > 0 && typeof e[0] === 'object' && !Buffer.isBuffer(e[0]);
  return typeof e === 'object' && e !== null && !Buffer.isBuffer(e);
}

/** Growable output buffer for the encoder. */
class Writer {
  private buf = Buffer.allocUnsafe(256);
  length = 0;
  private ensure(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.length + n));
    this.buf.copy(next, 0, 0, this.length);
    this.buf = next;
  }
  byte(b: number): void {
    this.ensure(1);
    this.buf[this.length++] = b;
  }
  name(s: string): void {
    const bytes = Buffer.from(s, 'utf8');
    if (bytes.length > MAX_NAME_BYTES) throw new ViciEncodeError(`name longer than ${MAX_NAME_BYTES} bytes`);
    this.byte(bytes.length);
    this.raw(bytes);
  }
  value(v: Buffer): void {
    if (v.length > MAX_VALUE_BYTES) throw new ViciEncodeError(`value longer than ${MAX_VALUE_BYTES} bytes`);
    this.ensure(2);
    this.buf.writeUInt16BE(v.length, this.length);
    this.length += 2;
    this.raw(v);
  }
  raw(b: Buffer): void {
    this.ensure(b.length);
    b.copy(this.buf, this.length);
    this.length += b.length;
  }
  result(): Buffer {
    return this.buf.subarray(0, this.length);
  }
}

function valueBytes(v: ViciInputValue): Buffer {
  if (Buffer.isBuffer(v)) return v;
  if (typeof v === 'boolean') return Buffer.from(v ? 'yes' : 'no');
  return Buffer.from(String(v), 'utf8');
}

function isInputValue(v: unknown): v is ViciInputValue {
  const t = typeof v;
  return t === 'string' || t === 'number' || t === 'bigint' || t === 'boolean' || Buffer.isBuffer(v);
}

function encodeInto(w: Writer, msg: ViciInput, depth: number): void {
  if (depth > 64) throw new ViciEncodeError('sections nested deeper than 64 levels');
  for (const name of Object.keys(msg)) {
    const v = msg[name];
    if (v === undefined) continue;
    if (isInputValue(v)) {
      w.byte(KEY_VALUE);
      w.name(name);
      w.value(valueBytes(v));
    } else if (Array.isArray(v)) {
      if (v.every(isInputValue)) {
        w.byte(LIST_START);
        w.name(name);
        for (const item of v as ViciInputValue[]) {
          w.byte(LIST_ITEM);
          w.value(valueBytes(item));
        }
        w.byte(LIST_END);
      } else {
        for (const item of v) {
          if (isInputValue(item)) throw new ViciEncodeError(`${name}: a list mixes values and sections`);
          w.byte(SECTION_START);
          w.name(name);
          encodeInto(w, item as ViciInput, depth + 1);
          w.byte(SECTION_END);
        }
      }
    } else if (typeof v === 'object' && v !== null) {
      w.byte(SECTION_START);
      w.name(name);
      encodeInto(w, v as ViciInput, depth + 1);
      w.byte(SECTION_END);
    } else {
      throw new ViciEncodeError(`${name}: cannot encode a value of type ${typeof v}`);
    }
  }
}

/**
 * Encode a message. Strings, numbers and bigints become text values, booleans `yes`/`no`,
 * Buffers stay bytes, arrays of values become lists, objects sections, arrays of objects repeated sections.
 */
export function encodeMessage(msg: ViciInput | ViciSection = {}): Buffer {
  const w = new Writer();
  encodeInto(w, msg as ViciInput, 0);
  return w.result();
}
