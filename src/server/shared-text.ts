// A plain response made as it is written, shared by the scrapes that joined one query: the text of
// the exposition is made piece by piece (metrics/exposition.ts, TextReader) while the clients read
// it, every client that joined writes the same pieces, and a piece is given back to the free list
// once every client has written it out. A scrape of 10,000 tunnels then never holds its 90 MB of
// text at once. Clients keep within WINDOW pieces of each other (a fast one waits for the slowest);
// one that makes the others wait for STALL_MS goes on with a text of its own, made again.

import type http from 'node:http';

/** What the pieces come from: a TextReader, or anything that gives pieces and takes them back. */
export interface PieceSource {
  next(): Buffer | undefined;
  release(piece: Buffer): void;
}

/** How many pieces (256 KiB each) the fastest client may be ahead of the slowest. */
export const WINDOW = 8;
/** Bytes a client may have written and not yet sent before it waits for the socket. */
export const WRITE_AHEAD = 1 << 20;
/** How long the others wait for a client that does not read before it is left behind. */
export const STALL_MS = 1000;

export interface Piece {
  readonly buf: Buffer;
  readonly owner: SharedText;
  /** Open cursors that have not taken it yet. */
  left: number;
  /** Writes of it not yet done. */
  writes: number;
  /** A write of it was abandoned (a client went away): never reused, left to the garbage collector. */
  abandoned: boolean;
}

export class Cursor {
  /** Index of the next piece. */
  pos = 0;
  closed = false;
  /** Pieces written and not yet done. */
  private readonly pending = new Set<Piece>();
  constructor(public text: SharedText) {}

  /**
   * The next piece to write; undefined at the end; null when this client is WINDOW pieces ahead of
   * another (call `text.wait` then). Call `written` with the piece once its write is done.
   */
  take(): Piece | undefined | null {
    const p = this.text.piece(this.pos);
    if (p === undefined || p === null) return p;
    this.pos++;
    p.left--;
    p.writes++;
    this.pending.add(p);
    this.text.moved();
    return p;
  }

  written(p: Piece): void {
    if (!this.pending.delete(p)) return;
    p.writes--;
    p.owner.drop();
  }

  /** The client is done (or gone): what it did not take or write out is not waited for. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const p of this.pending) {
      p.writes--;
      p.abandoned = true;
      p.owner.drop();
    }
    this.pending.clear();
    this.text.leave(this);
  }
}

export class SharedText {
  /** Pieces made and not dropped yet, by index (pieces are dropped in any order). */
  private readonly pieces = new Map<number, Piece>();
  private made = 0;
  private readonly cursors = new Set<Cursor>();
  private source: PieceSource | null = null;
  /** Tail buffers made into pieces (the source is done once the first is). */
  private tailTaken = 0;
  private waiters: (() => void)[] = [];
  private stall: NodeJS.Timeout | null = null;
  /** Bytes of the whole response. */
  readonly length: number;

  /**
   * `make`: a new source of the text (`length` bytes); `tail`: buffers written after it (the
   * exporter's own metrics, `# EOF`).
   */
  constructor(
    private readonly make: () => PieceSource,
    private readonly sourceLength: number,
    private readonly tail: readonly Buffer[],
  ) {
    let n = sourceLength;
    for (const b of tail) n += b.length;
    this.length = n;
  }

  /**
   * A cursor for one client. A client that comes once pieces have been made (and perhaps given back)
   * reads a text of its own, made again from the exposition.
   */
  open(): Cursor {
    if (this.made > 0) return this.fresh().open();
    const c = new Cursor(this);
    this.cursors.add(c);
    return c;
  }

  private fresh(): SharedText {
    return new SharedText(this.make, this.sourceLength, this.tail);
  }

  /** Piece i, made if it is the next one; undefined past the end; null: wait for the slowest. */
  piece(i: number): Piece | undefined | null {
    const have = this.pieces.get(i);
    if (have !== undefined) return have;
    if (i !== this.made) throw new Error(`piece ${i} asked for out of order (made ${this.made})`);
    if (this.cursors.size > 1 && this.made - this.slowest() >= WINDOW) return null;
    const buf = this.nextBuffer();
    if (buf === undefined) return undefined;
    const p: Piece = { buf, owner: this, left: this.cursors.size, writes: 0, abandoned: false };
    this.pieces.set(this.made++, p);
    return p;
  }

  private nextBuffer(): Buffer | undefined {
    this.source ??= this.make();
    const buf = this.tailTaken === 0 ? this.source.next() : undefined;
    if (buf !== undefined) return buf;
    const t = this.tail[this.tailTaken];
    if (t !== undefined) this.tailTaken++;
    return t;
  }

  private slowest(): number {
    let min = Number.POSITIVE_INFINITY;
    for (const c of this.cursors) if (c.pos < min) min = c.pos;
    return min;
  }

  /** Call `resume` once the slowest client has moved (or was left behind). */
  wait(resume: () => void): void {
    this.waiters.push(resume);
    this.stall ??= setTimeout(() => this.leaveBehind(), STALL_MS);
  }

  /** A cursor took a piece: wake who waits if the window allows. */
  moved(): void {
    if (this.waiters.length === 0 || this.made - this.slowest() >= WINDOW) return;
    if (this.stall !== null) clearTimeout(this.stall);
    this.stall = null;
    const w = this.waiters;
    this.waiters = [];
    for (const resume of w) resume();
  }

  /** The slowest clients made the others wait too long: they go on with texts of their own. */
  private leaveBehind(): void {
    this.stall = null;
    const min = this.slowest();
    for (const c of [...this.cursors]) {
      if (c.pos !== min || this.cursors.size <= 1) continue;
      this.leave(c);
      const own = this.fresh();
      own.cursors.add(c);
      own.skip(c.pos);
      c.text = own;
    }
    this.moved();
  }

  /** Make the first n pieces and give them back (a client left behind was past them). */
  private skip(n: number): void {
    for (; this.made < n; this.made++) {
      const buf = this.nextBuffer();
      if (buf === undefined) break;
      this.source?.release(buf);
    }
  }

  /** Give back every piece that no cursor will take or is writing. */
  drop(): void {
    for (const [i, p] of this.pieces) {
      if (p.left > 0 || p.writes > 0) continue;
      this.pieces.delete(i);
      if (!p.abandoned) this.source?.release(p.buf);
    }
  }

  leave(c: Cursor): void {
    if (!this.cursors.delete(c)) return;
    for (const [i, p] of this.pieces) if (i >= c.pos) p.left--;
    this.drop();
    this.moved();
  }
}

/**
 * Write a shared text to a response, a piece at a time as the socket takes it (the next piece is
 * made when the last one is written). Starts after the current turn, so that every scrape that
 * joined the query has opened its cursor before the first piece is made.
 */
export function writeShared(res: http.ServerResponse, text: SharedText): void {
  const cur = text.open();
  res.once('close', () => cur.close());
  const pump = (): void => {
    try {
      step();
    } catch (err) {
      // Making the text failed (a bug): this response ends here, the process goes on.
      cur.close();
      res.destroy(err instanceof Error ? err : new Error(String(err)));
    }
  };
  const step = (): void => {
    if (cur.closed || res.destroyed) return;
    for (;;) {
      const p = cur.take();
      if (p === null) {
        cur.text.wait(pump);
        return;
      }
      if (p === undefined) {
        res.end(() => cur.close());
        return;
      }
      // A few pieces in flight (not one): the socket gets more per write, and the pump fewer turns.
      if (!res.write(p.buf, () => cur.written(p)) && res.writableLength >= WRITE_AHEAD) {
        res.once('drain', pump);
        return;
      }
    }
  };
  setImmediate(pump);
}
