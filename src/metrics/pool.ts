// Chunks of 256 KiB lent to the expositions and readers of one target and taken back once their text
// is written out, so that a big scrape reuses the last one's memory instead of allocating anew and
// pushing the garbage collector into full collections. The pool knows which chunks are out: a chunk
// given back twice, or one it never lent, is refused; in checked mode (tests) that throws, and a
// chunk given back is overwritten at once, so that a reader that still used it writes garbage.

import { LabelStore } from './labels.js';

export const CHUNK = 1 << 18;

/** The free list keeps at most twice the chunks taken since it was last trimmed (and at least this). */
const MIN_FREE = 8;

export class ChunkPool {
  private readonly free: ArrayBuffer[] = [];
  private readonly lent = new WeakSet<ArrayBuffer>();
  private spare: LabelStore | null = null;
  private taken = 0;

  constructor(readonly checked = false) {}

  /** A chunk of CHUNK bytes, reused when one is free. */
  take(): Buffer {
    const ab = this.free.pop() ?? new ArrayBuffer(CHUNK);
    this.lent.add(ab);
    this.taken++;
    return Buffer.from(ab);
  }

  /** Whether `ab` is a chunk lent by this pool and not given back yet. */
  owns(ab: ArrayBufferLike): boolean {
    return this.lent.has(ab as ArrayBuffer);
  }

  /** Take a chunk back (given as the chunk or any view of it). */
  give(chunk: ArrayBufferLike | Uint8Array): void {
    const ab = (ArrayBuffer.isView(chunk) ? chunk.buffer : chunk) as ArrayBuffer;
    if (!this.lent.delete(ab)) {
      if (this.checked) throw new Error('chunk given back twice, or not from this pool');
      return;
    }
    if (this.checked) new Uint8Array(ab).fill(0);
    this.free.push(ab);
  }

  /** Let go of free chunks beyond twice what was taken since the last trim (a scrape's worth). */
  trim(): void {
    const keep = Math.max(MIN_FREE, 2 * this.taken);
    if (this.free.length > keep) this.free.length = keep;
    this.taken = 0;
  }

  /** Chunks waiting to be reused. */
  get freeChunks(): number {
    return this.free.length;
  }

  /** An empty label dictionary for one scrape: the last scrape's, if it was given back. */
  dict(): LabelStore {
    const d = this.spare ?? new LabelStore();
    this.spare = null;
    d.clear();
    return d;
  }

  giveDict(d: LabelStore): void {
    this.spare = d;
  }
}
