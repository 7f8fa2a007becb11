// The label sets of one scrape, stored once each as bytes in one growing buffer (a dictionary), and
// the handle a collector gets for one: lines refer to their label set by number, so that a scrape
// of a million lines keeps no string or Buffer per line.

const EMPTY = Buffer.alloc(0);

export class LabelStore {
  /** The bytes of every label set, one after the other. */
  buf: Buffer = EMPTY;
  private used = 0;
  /** Label set i is buf[ends[i], ends[i + 1]). */
  ends = new Uint32Array(64);
  /** How many label sets are kept. */
  size = 0;

  /** Keep a label set (`a="x",b="y"`, or any label text); its number, counting from 0. */
  add(labels: string): number {
    const n = Buffer.byteLength(labels);
    if (this.used + n > this.buf.length) {
      const bigger = Buffer.allocUnsafeSlow(
        Math.max(1 << 12, Math.ceil(1.25 * this.buf.length), this.used + n),
      );
      this.buf.copy(bigger, 0, 0, this.used);
      this.buf = bigger;
    }
    this.buf.write(labels, this.used);
    this.used += n;
    if (this.size + 2 > this.ends.length) {
      const ends = new Uint32Array(Math.ceil(1.25 * this.ends.length) + 2);
      ends.set(this.ends);
      this.ends = ends;
    }
    this.ends[++this.size] = this.used;
    return this.size - 1;
  }

  /** Bytes of label set i. */
  length(i: number): number {
    return (this.ends[i + 1] as number) - (this.ends[i] as number);
  }

  /** Label set i as text (for tests and error messages). */
  text(i: number): string {
    return this.buf.toString('utf8', this.ends[i], this.ends[i + 1]);
  }

  /** Forget every label set (the memory is kept for the next ones). */
  clear(): void {
    this.used = 0;
    this.size = 0;
  }
}

/**
 * A label set a collector made for several lines (an SA's `conn` and `ike_id`, say): the names it
 * has, and where its bytes are. Lines written with it name the rest of their family's labels.
 */
export class LabelSet {
  constructor(
    readonly names: readonly string[],
    readonly store: LabelStore,
    readonly index: number,
  ) {}
}
