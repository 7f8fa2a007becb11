// The text of an exposition, made piece by piece as a response is written: each family's HELP and
// TYPE, then its lines, each made from its family name, its label set and ending from the scrape's
// dictionary, and its value, into chunks of the pool. A scrape thus holds its lines as ~20 bytes each
// and only the few chunks of text being written.

import type { Family } from './families.js';
import type { LabelStore } from './labels.js';
import { CHUNK, type ChunkPool } from './pool.js';
import { type Format, header } from './text.js';

/**
 * A line as an exposition keeps it: the number of its label set (u32 LE), of its ending (u32 LE),
 * the length of its value (u8), then the value's text.
 */
export const LINE_HEAD = 9;
/** The number of a label set or ending a line does not have. */
export const NONE = 0xffffffff;

export class TextReader {
  private fi = 0;
  /** Whether the current family's header has been given. */
  private headed = false;
  private si = 0;
  /** Where in the current segment the next line starts. */
  private pos = 0;
  private readonly made = new Set<ArrayBufferLike>();
  /** The current family's name, as bytes. */
  private name = dataView(Buffer.alloc(0));

  constructor(
    private readonly families: readonly [Family, readonly Buffer[]][],
    private readonly format: Format,
    private readonly dict: LabelStore,
    private readonly pool: ChunkPool | undefined,
  ) {}

  /** The next piece of text (at most CHUNK bytes unless one line is longer); undefined at the end. */
  next(): Buffer | undefined {
    if (this.fi >= this.families.length) return undefined;
    let out = this.newPiece(CHUNK);
    let o = this.fill(out, 0);
    if (o === 0) {
      // One header or line longer than a chunk: a piece of its own size.
      this.release(out);
      out = Buffer.allocUnsafe(this.itemLength());
      o = this.fill(out, 0);
    }
    return out.subarray(0, o);
  }

  /** Give a piece back once it is written out (pieces this reader took return to the pool). */
  release(piece: Buffer): void {
    if (this.made.delete(piece.buffer)) this.pool?.give(piece.buffer);
  }

  private newPiece(size: number): Buffer {
    if (this.pool === undefined) return Buffer.allocUnsafeSlow(size);
    const b = this.pool.take();
    this.made.add(b.buffer);
    return b;
  }

  /** Write headers and lines into `out` from `o` while they fit; the offset after them. */
  private fill(out: Buffer, o: number): number {
    const cap = out.length;
    const t = dataView(out);
    for (; this.fi < this.families.length; this.fi++, this.headed = false, this.si = 0, this.pos = 0) {
      const [f, segs] = this.families[this.fi] as [Family, readonly Buffer[]];
      if (!this.headed) {
        const h = header(f, this.format);
        if (o + h.length > cap) return o;
        o += h.copy(out, o);
        this.headed = true;
        this.name = dataView(Buffer.from(f.name));
      }
      for (; this.si < segs.length; this.si++, this.pos = 0) {
        o = this.lines(segs[this.si] as Buffer, out, t, o);
        if (this.pos < (segs[this.si] as Buffer).length) return o;
      }
    }
    return o;
  }

  /** Lines of `src` from this.pos, made text into `out` at `o` while they fit; the offset after them. */
  private lines(src: Buffer, out: Buffer, t: DataView, o: number): number {
    const dict = this.dict;
    const ends = dict.ends;
    const d = dataView(dict.buf);
    const s = dataView(src);
    const name = this.name;
    const nl = name.byteLength;
    const cap = out.length;
    const n = src.length;
    let i = this.pos;
    while (i < n) {
      const lref = s.getUint32(i, true);
      const eref = s.getUint32(i + 4, true);
      const vlen = src[i + 8] as number;
      // Chunks given back are zeroed in checked mode: a line with no value means one was read after.
      if (vlen === 0) throw new Error('corrupt exposition line (its chunk was given back while in use)');
      let ls = 0;
      let le = 0;
      if (lref !== NONE) {
        ls = ends[lref] as number;
        le = ends[lref + 1] as number;
      }
      let es = 0;
      let ee = 0;
      if (eref !== NONE) {
        es = ends[eref] as number;
        ee = ends[eref + 1] as number;
      }
      const labels = le - ls + (ee - es);
      if (o + nl + (labels > 0 ? labels + 2 : 0) + 2 + vlen > cap) break;
      o = copyBytes(name, 0, nl, t, o);
      if (labels > 0) {
        out[o++] = 0x7b; // {
        o = copyBytes(d, ls, le, t, o);
        o = copyBytes(d, es, ee, t, o);
        out[o++] = 0x7d; // }
      }
      out[o++] = 0x20;
      o = copyBytes(s, i + 9, i + 9 + vlen, t, o);
      out[o++] = 0x0a;
      i += 9 + vlen;
    }
    this.pos = i;
    return o;
  }

  /** Bytes of the next header or line as text. */
  private itemLength(): number {
    const [f, segs] = this.families[this.fi] as [Family, readonly Buffer[]];
    if (!this.headed) return header(f, this.format).length;
    const src = segs[this.si] as Buffer;
    const len = (ref: number) => (ref === NONE ? 0 : this.dict.length(ref));
    const labels = len(src.readUInt32LE(this.pos)) + len(src.readUInt32LE(this.pos + 4));
    return f.name.length + (labels > 0 ? labels + 2 : 0) + 2 + (src[this.pos + 8] as number);
  }
}

const dataView = (b: Buffer): DataView => new DataView(b.buffer, b.byteOffset, b.length);

/**
 * Copy bytes [from, to) of `src` to `dst` at `o`, four at a time; the offset after them. For the
 * short pieces of a line this is twice as fast as a byte loop, and makes no view per copy as
 * Uint8Array.set and Buffer.copy would.
 */
function copyBytes(src: DataView, from: number, to: number, dst: DataView, o: number): number {
  let k = from;
  for (; k + 4 <= to; k += 4, o += 4) dst.setUint32(o, src.getUint32(k));
  for (; k < to; k++, o++) dst.setUint8(o, src.getUint8(k));
  return o;
}
