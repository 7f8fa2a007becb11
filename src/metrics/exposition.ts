// What collectors write a scrape into. A collector names a family, a label set (made once per SA with
// `labels`), the values of the family's other labels, and the value; the exposition checks the label
// names against the family and keeps each line as ~20 bytes: the numbers of its label set and of the
// rest of its labels in the scrape's label dictionary, and its value as text. The text itself is made
// only as a response is written (reader.ts), for whichever format and encoding the client asked.

import type { Family } from './families.js';
import { LabelSet, LabelStore } from './labels.js';
import { CHUNK, type ChunkPool } from './pool.js';
import { LINE_HEAD, NONE, TextReader } from './reader.js';
import { type Format, header, renderLabels, VALUE_ROOM, writeValue } from './text.js';

export {
  CONTENT_TYPES,
  escapeLabelValue,
  type Format,
  formatValue,
  isDecimal,
  renderLabels,
} from './text.js';
export { LabelSet, TextReader };

/** A family's first chunk is small (most families have a few lines); then x8 up to CHUNK. */
const FIRST_CHUNK = 1 << 12;
const EMPTY = Buffer.alloc(0);
/** Beyond this many stored label endings, an exposition stops remembering them (per line then). */
const MAX_ENDINGS = 100_000;

/** A family's lines: finished segments and the chunk being written. */
class Body {
  readonly segs: Buffer[] = [];
  buf: Buffer = EMPTY;
  off = 0;
  /** Bytes of text its lines make. */
  textLen = 0;
  private next = FIRST_CHUNK;

  constructor(
    readonly f: Family,
    private readonly chunk: (size: number) => Buffer,
  ) {}

  /** Make room for `n` more bytes in the current chunk. */
  room(n: number): void {
    if (this.off + n <= this.buf.length) return;
    this.seal();
    this.buf = this.chunk(Math.max(n, this.next));
    if (this.next < CHUNK) this.next *= 8;
  }

  /** Finish what was written so far as a segment; the rest of the chunk stays for what follows. */
  seal(): void {
    if (this.off === 0) return;
    this.segs.push(this.buf.subarray(0, this.off));
    this.buf = this.buf.subarray(this.off);
    this.off = 0;
  }
}

/** An ending's number in the dictionary, and the endings that follow it (one more label value each). */
interface Ending {
  ref: number;
  next: Map<string, Ending> | null;
}

export interface ExpositionOptions {
  /** Where full-size chunks come from and go back to (none: allocated, left to the garbage collector). */
  pool?: ChunkPool;
}

export class Exposition {
  /** Bodies by family ordinal (the definition order, which is the order of the text). */
  private bodies: (Body | undefined)[] = [];
  /** Number of samples written. */
  samples = 0;
  private recycled = false;
  /** A chunk that small remainders are packed into (see absorb). */
  private packing: Buffer = EMPTY;
  private packed = 0;
  private readonly packChunks: Buffer[] = [];
  /** Label names checked per family: the names of the set and how many values came after them. */
  private readonly checkedNames: (readonly string[] | undefined)[] = [];
  private readonly checkedRest: number[] = [];
  /** Endings (the labels after a label set) stored so far, by family ordinal and prefix length. */
  private readonly endings: (Ending | undefined)[] = [];
  private endingsKept = 0;
  private readonly pool: ChunkPool | undefined;
  private readonly ownsDict: boolean;
  private readonly chunk = (size: number): Buffer => this.newChunk(size);

  /** The scrape's label dictionary (shared with the parts made by `part`). */
  private readonly dict: LabelStore;

  constructor(opts: ExpositionOptions = {}, dict?: LabelStore) {
    this.pool = opts.pool;
    this.ownsDict = dict === undefined;
    this.dict = dict ?? opts.pool?.dict() ?? new LabelStore();
  }

  /** An exposition for one collector of the same scrape: same dictionary and pool, absorbed later. */
  part(): Exposition {
    return new Exposition({ pool: this.pool }, this.dict);
  }

  /** A label set for the lines that follow (names and values in the order of the families' labels). */
  labels(names: readonly string[], values: readonly string[]): LabelSet {
    if (values.length !== names.length)
      throw new Error(`labels [${names}]: ${values.length} values for ${names.length} names`);
    return new LabelSet(names, this.dict, this.dict.add(renderLabels(names, values)));
  }

  /**
   * Write one sample of `f`: its labels are those of `set` (none when null) followed by `v1`, `v2`,
   * `v3` for the family's remaining labels, in order. A string value must be a decimal integer
   * (optional minus, up to 23 digits; see isDecimal) and is written as it is; numbers are formatted
   * here. False, and nothing written, for a string value that is not one or no value (undefined).
   * Throws when the label names are not the family's (a bug in the collector).
   */
  write(
    f: Family,
    value: number | string | undefined,
    set: LabelSet | null = null,
    v1?: string,
    v2?: string,
    v3?: string,
  ): boolean {
    const rest = v1 === undefined ? 0 : v2 === undefined ? 1 : v3 === undefined ? 2 : 3;
    const names = set === null ? NO_NAMES : set.names;
    if (this.checkedNames[f.ordinal] !== names || this.checkedRest[f.ordinal] !== rest)
      this.check(f, names, rest);
    const dict = this.dict;
    let lref = NONE;
    let len = 0;
    if (set !== null) {
      if (set.store !== dict) throw new Error(`${f.name}: a label set of another scrape`);
      lref = set.index;
      len += dict.length(lref);
    }
    let eref = NONE;
    if (rest > 0) {
      eref = this.ending(f, names.length, v1 as string, v2, v3);
      len += dict.length(eref);
    }
    if (value === undefined) return false;
    const b = this.body(f);
    b.room(LINE_HEAD + VALUE_ROOM);
    const buf = b.buf;
    const start = b.off;
    const end = writeValue(buf, start + LINE_HEAD, value);
    if (end < 0) return false;
    buf[start] = lref;
    buf[start + 1] = lref >>> 8;
    buf[start + 2] = lref >>> 16;
    buf[start + 3] = lref >>> 24;
    buf[start + 4] = eref;
    buf[start + 5] = eref >>> 8;
    buf[start + 6] = eref >>> 16;
    buf[start + 7] = eref >>> 24;
    const vlen = end - start - LINE_HEAD;
    buf[start + 8] = vlen;
    b.off = end;
    // name{labels} value\n
    b.textLen += f.name.length + (len > 0 ? len + 2 : 0) + 2 + vlen;
    this.samples++;
    return true;
  }

  private check(f: Family, names: readonly string[], rest: number): void {
    const want = f.labels;
    if (names.length + rest !== want.length || names.some((n, i) => want[i] !== n)) {
      const got = [...names, ...Array.from({ length: rest }, (_, i) => want[names.length + i] ?? '?')];
      throw new Error(`${f.name}: written with labels [${got}], declared [${want}]`);
    }
    this.checkedNames[f.ordinal] = names;
    this.checkedRest[f.ordinal] = rest;
  }

  /** The dictionary number of `,name="v1",...` (the family's labels after the first `from`). */
  private ending(f: Family, from: number, v1: string, v2?: string, v3?: string): number {
    const key = f.ordinal * 8 + from;
    let root = this.endings[key];
    if (root === undefined) {
      root = { ref: NONE, next: new Map() };
      this.endings[key] = root;
    }
    // One level per value, without making an array per line.
    let node = this.step(root, v1);
    if (node !== null && v2 !== undefined) node = this.step(node, v2);
    if (node !== null && v3 !== undefined) node = this.step(node, v3);
    if (node === null) return this.dict.add(this.endingText(f, from, v1, v2, v3));
    if (node.ref === NONE) node.ref = this.dict.add(this.endingText(f, from, v1, v2, v3));
    return node.ref;
  }

  /** The node after `node` for value v, made if there is room; null beyond MAX_ENDINGS. */
  private step(node: Ending, v: string): Ending | null {
    node.next ??= new Map();
    let n = node.next.get(v);
    if (n === undefined) {
      if (this.endingsKept >= MAX_ENDINGS) return null;
      n = { ref: NONE, next: null };
      node.next.set(v, n);
      this.endingsKept++;
    }
    return n;
  }

  private endingText(f: Family, from: number, v1: string, v2?: string, v3?: string): string {
    const values = v2 === undefined ? [v1] : v3 === undefined ? [v1, v2] : [v1, v2, v3];
    const text = renderLabels(f.labels.slice(from, from + values.length), values);
    return from > 0 ? `,${text}` : text;
  }

  private body(f: Family): Body {
    const known = this.bodies[f.ordinal];
    if (known !== undefined) return known;
    if (this.recycled) throw new Error('exposition used after recycle()');
    const b = new Body(f, this.chunk);
    this.bodies[f.ordinal] = b;
    return b;
  }

  private newChunk(size: number): Buffer {
    if (size !== CHUNK || this.pool === undefined) return Buffer.allocUnsafeSlow(size);
    return this.pool.take();
  }

  /** Move every sample of another exposition of the same scrape into this one. */
  absorb(other: Exposition): void {
    if (other.dict !== this.dict) throw new Error('absorb(): an exposition of another scrape');
    for (let i = 0; i < other.bodies.length; i++) {
      const theirs = other.bodies[i];
      if (theirs === undefined) continue;
      const mine = this.body(theirs.f);
      mine.seal();
      this.closeInto(theirs);
      for (const s of theirs.segs) mine.segs.push(s);
      mine.textLen += theirs.textLen;
    }
    other.bodies = [];
    this.samples += other.samples;
  }

  /**
   * Seal a body that is done; a full pool chunk at most half used is copied into the packing chunk
   * and given back at once (about 90 families would otherwise each hold a chunk half empty).
   */
  private closeInto(b: Body): void {
    const pool = this.pool;
    if (
      pool === undefined ||
      b.off === 0 ||
      b.off > CHUNK / 2 ||
      b.buf.length !== CHUNK ||
      !pool.owns(b.buf.buffer)
    ) {
      b.seal();
      return;
    }
    if (this.packed + b.off > this.packing.length) {
      this.packing = this.newChunk(CHUNK);
      this.packChunks.push(this.packing);
      this.packed = 0;
    }
    b.buf.copy(this.packing, this.packed, 0, b.off);
    b.segs.push(this.packing.subarray(this.packed, this.packed + b.off));
    this.packed += b.off;
    pool.give(b.buf);
    b.buf = EMPTY;
    b.off = 0;
  }

  /**
   * Give this exposition's chunks (and, for a scrape's own exposition, its dictionary) back to the
   * pool. Only once nothing will read them again; the exposition is unusable afterwards.
   */
  recycle(): void {
    if (this.recycled) return;
    this.recycled = true;
    const pool = this.pool;
    const bodies = this.bodies;
    this.bodies = [];
    if (pool === undefined) return;
    const chunks = new Set<ArrayBufferLike>();
    for (const b of bodies) {
      if (b === undefined) continue;
      for (const s of b.segs) chunks.add(s.buffer);
      chunks.add(b.buf.buffer);
    }
    for (const c of this.packChunks) chunks.add(c.buffer);
    for (const ab of chunks) if (pool.owns(ab)) pool.give(ab);
    if (this.ownsDict) pool.giveDict(this.dict);
    pool.trim();
  }

  /** Families with samples, in definition order, each with its segments (sealed: nothing is written later). */
  private families(): [Family, Buffer[]][] {
    if (this.recycled) throw new Error('exposition used after recycle()');
    const out: [Family, Buffer[]][] = [];
    for (const b of this.bodies) {
      if (b === undefined) continue;
      b.seal();
      if (b.segs.length > 0) out.push([b.f, b.segs]);
    }
    return out;
  }

  /**
   * A reader of the text of every family that has samples, in definition order, with HELP and TYPE
   * once each, piece by piece (see TextReader). Several readers may read one exposition.
   */
  reader(format: Format = 'prometheus'): TextReader {
    return new TextReader(this.families(), format, this.dict, this.pool);
  }

  /** Bytes of the text (what a reader gives). */
  textLength(format: Format = 'prometheus'): number {
    let n = 0;
    for (const b of this.bodies)
      if (b !== undefined && b.textLen > 0) n += header(b.f, format).length + b.textLen;
    return n;
  }

  /** The whole text as pieces (not pooled: for small expositions and tools). */
  render(format: Format = 'prometheus'): Buffer[] {
    const r = new TextReader(this.families(), format, this.dict, undefined);
    const out: Buffer[] = [];
    for (let p = r.next(); p !== undefined; p = r.next()) out.push(p);
    return out;
  }

  /** The same as one string (for tests and small expositions). */
  text(format: Format = 'prometheus'): string {
    return Buffer.concat(this.render(format)).toString('utf8');
  }
}

const NO_NAMES: readonly string[] = [];
