// The fast exposition path: collectors write samples straight into an Exposition while they walk a
// VICI reply (no per-sample objects, no string per line): label bytes are made once per SA and copied
// into each line, numbers are written digit by digit, all into 256 KiB chunks that are reused by the
// next scrape once a scrape's responses are written out. Samples of one family are kept together;
// render() gives the Prometheus text format 0.0.4 or OpenMetrics 1.0.0 as the chunks themselves.
// A scrape for a plain client keeps each `put` line as references instead (its label set stored
// once per scrape in a dict, ~20 bytes per line), made text by a TextReader as the response is
// written (server/shared-text.ts): 30 MB held at 10,000 tunnels instead of 90 MB of text.
// A scrape made for a gzip client deflates each big family's text as it is written (see Deflating)
// and parts() gives its response as text and deflated runs (server/gzip.ts puts them together).

import zlib from 'node:zlib';
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

function escapeHelp(h: string): string {
  return h.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/**
 * Sizes of the byte chunks a family's samples are written into: small first (4 KiB, 32 KiB), then
 * full-size chunks of 256 KiB. In a deflating exposition each full-size chunk is one deflate job
 * (jobs of 64 KiB would cost half as much CPU again: 450 vs 290 ms for 90 MB of text).
 */
const FIRST_CHUNK = 1 << 12;
const MAX_CHUNK = 1 << 18;
const EMPTY = Buffer.alloc(0);

/**
 * Full-size chunks of expositions that are done with (see `recycle`), reused by the next scrapes:
 * a big scrape then allocates no new memory for its 90 MB of text, and the garbage collector is not
 * pushed into a full collection by the last scrape's chunks. Only chunks made here are taken back.
 * A deflating exposition gives each chunk back as soon as it is deflated.
 */
const OWN_CHUNKS = new WeakSet<ArrayBuffer>();
const FREE_CHUNKS: ArrayBuffer[] = [];
/** The free list keeps at most twice the chunks the last recycled exposition took (and at least this). */
const MIN_FREE_CHUNKS = 8;

/** Full-size chunks an exposition took (summed over the expositions it absorbed). */
interface ChunkUse {
  taken: number;
}

function newChunk(size: number, use: ChunkUse): Buffer {
  if (size !== MAX_CHUNK) return Buffer.allocUnsafeSlow(size);
  use.taken++;
  const free = FREE_CHUNKS.pop();
  if (free !== undefined) return Buffer.from(free);
  const b = Buffer.allocUnsafeSlow(size);
  OWN_CHUNKS.add(b.buffer as ArrayBuffer);
  return b;
}

function giveBack(ab: ArrayBuffer): void {
  FREE_CHUNKS.push(ab);
}

/** Chunks waiting to be reused (for tests). */
export function freeChunks(): number {
  return FREE_CHUNKS.length;
}

/**
 * Small pieces copied into shared, reused chunks: the last, partly filled chunk of a family's text
 * when the family is done (about 90 of them would otherwise each keep a chunk that is half empty
 * on average), and the output of deflate jobs.
 */
class Packer {
  private buf: Buffer = EMPTY;
  private off = 0;

  constructor(private readonly use: ChunkUse) {}

  copy(text: Buffer): Buffer {
    if (this.off + text.length > this.buf.length) {
      this.buf = newChunk(MAX_CHUNK, this.use);
      this.off = 0;
    }
    text.copy(this.buf, this.off);
    this.off += text.length;
    return this.buf.subarray(this.off - text.length, this.off);
  }
}

/**
 * A run of text deflated as it was written: raw deflate that ends with a sync flush (more deflate
 * data can follow it), with the CRC-32 and length of the text it holds.
 */
export interface DeflatedRun {
  readonly pieces: readonly Buffer[];
  readonly crc: number;
  readonly len: number;
}

/** What a response body is made of: text, and runs already deflated. */
export type Part = Buffer | DeflatedRun;

/**
 * Level 1 (what gzip responses always used), an 8 KiB window and a smaller hash: ~100 KiB of zlib
 * state per job instead of ~260 KiB, and on exposition text 3 % smaller output than the defaults
 * (10,000 IKE SAs: 8.3 vs 8.5 MB).
 */
const DEFLATE_OPTIONS: zlib.ZlibOptions = {
  level: 1,
  windowBits: 13,
  memLevel: 7,
  chunkSize: 1 << 14,
  finishFlush: zlib.constants.Z_SYNC_FLUSH,
};

/** Deflate jobs run at most this many at once (libuv's pool has 4 threads); the rest wait as text. */
const MAX_JOBS = 8;
let jobsRunning = 0;
const jobsWaiting: (() => void)[] = [];
/** Bytes of text handed to deflate jobs and not yet deflated. */
let backlog = 0;
/** Above this backlog, writers are asked to wait (see deflateCatchUp) until it is down to LOW. */
const BACKLOG_HIGH = 8 << 20;
const BACKLOG_LOW = 4 << 20;
let caughtUp: { promise: Promise<void>; resolve: () => void } | null = null;

function startJob(job: () => void): void {
  if (jobsRunning < MAX_JOBS) {
    jobsRunning++;
    job();
  } else jobsWaiting.push(job);
}

function jobDone(bytes: number): void {
  backlog -= bytes;
  jobsRunning--;
  const next = jobsWaiting.shift();
  if (next !== undefined) {
    jobsRunning++;
    next();
  }
  if (caughtUp !== null && backlog <= BACKLOG_LOW) {
    caughtUp.resolve();
    caughtUp = null;
  }
}

/**
 * Undefined while deflating keeps up with the text written; else a promise that resolves once it
 * has caught up. A listing being collected for a gzip client waits for it (its socket is not read),
 * so that text waiting to be deflated stays a few MB when the CPU is short (on 2 cores, up to 30 MB
 * of it piled up without this).
 */
export function deflateCatchUp(): Promise<void> | undefined {
  if (backlog <= BACKLOG_HIGH) return undefined;
  if (caughtUp === null) {
    let resolve = () => {};
    const promise = new Promise<void>((r) => {
      resolve = r;
    });
    caughtUp = { promise, resolve };
  }
  return caughtUp.promise;
}

/**
 * A family's text deflated on libuv's threads while the scrape goes on. Each full chunk is one
 * deflate job of its own, so that jobs never wait for the busy main thread between them (one zlib
 * stream per family would: it takes a turn of the event loop per chunk and fell 50 MB behind), and
 * goes back to the free list once deflated: a scrape of 90 MB of text keeps its 8 MB deflated and a
 * few MB of text in flight, instead of all of it.
 */
class Deflating {
  private readonly jobs: Promise<Buffer>[] = [];
  /** What the jobs made, as it comes (copied into the packer's chunks, which are recycled). */
  readonly out: Buffer[] = [];
  private crc = 0;
  private len = 0;
  private done: Promise<DeflatedRun> | null = null;

  constructor(private readonly pack: Packer) {}

  /** Deflate `text` (after what came before); `after` runs once that is done. */
  write(text: Buffer, after?: () => void): void {
    if (text.length === 0) {
      after?.();
      return;
    }
    this.crc = zlib.crc32(text, this.crc);
    this.len += text.length;
    backlog += text.length;
    const i = this.jobs.length;
    const job = new Promise<Buffer>((resolve, reject) =>
      startJob(() =>
        zlib.deflateRaw(text, DEFLATE_OPTIONS, (err, made) => {
          jobDone(text.length);
          if (err) return reject(err);
          after?.();
          // zlib's own output buffers (16 KiB each) are let go at once: no buffer per job lives on.
          const kept = made.length <= MAX_CHUNK / 2 ? this.pack.copy(made) : made;
          this.out[i] = kept;
          resolve(kept);
        }),
      ),
    );
    // A failure is reported to whoever renders; a discarded exposition has nobody to tell.
    job.catch(() => {});
    this.jobs.push(job);
  }

  /** The run, once every job is done; nothing is written after the first call. */
  run(): Promise<DeflatedRun> {
    if (this.done === null) {
      this.done = Promise.all(this.jobs).then((pieces) => ({ pieces, crc: this.crc >>> 0, len: this.len }));
    }
    return this.done;
  }
}

/**
 * The samples of one family, as bytes: finished chunks plus the one being written. Lines are written
 * straight into the chunk (label bytes copied, numbers written digit by digit), so that a scrape of
 * a million series makes no string per line and keeps no small strings alive. In a deflating
 * exposition, once the family fills a full-size chunk its text goes to a Deflating stream instead.
 */
class Body {
  readonly segs: (Buffer | Deflating)[] = [];
  /** The stream text goes to (the last of segs), once there is one. */
  private z: Deflating | null = null;
  buf: Buffer = EMPTY;
  off = 0;
  /** Bytes of text the family's lines make (with lines by reference expanded, see TextReader). */
  textLen = 0;
  /** Whether some lines are written by reference (then segs are not text as they are). */
  refs = false;
  /** Whether segs hold text from the start of buf (then buf is not this family's alone to move). */
  private shared = false;
  private next = FIRST_CHUNK;

  constructor(
    private readonly deflate: boolean,
    private readonly use: ChunkUse,
    private readonly pack: Packer,
  ) {}

  /** Make room for `n` more bytes in the current chunk. */
  room(n: number): void {
    if (this.off + n <= this.buf.length) return;
    this.seal();
    const size = Math.max(n, this.next);
    if (this.next < MAX_CHUNK) this.next *= 8;
    this.buf = newChunk(size, this.use);
    this.shared = false;
  }

  /** Finish what was written so far as a chunk; the rest of the buffer stays for what follows. */
  seal(): void {
    if (this.off === 0) return;
    const used = this.buf.subarray(0, this.off);
    const ab = this.buf.buffer as ArrayBuffer;
    // In a deflating exposition a full-size chunk starts a deflated run, and from then on the
    // family's text goes there; the chunk (rest included) is given back once deflated. So no
    // full-size chunk is kept as text there.
    if (this.deflate && (this.z !== null || OWN_CHUNKS.has(ab))) {
      if (this.z === null) {
        this.z = new Deflating(this.pack);
        this.segs.push(this.z);
      }
      this.z.write(used, OWN_CHUNKS.has(ab) ? () => giveBack(ab) : undefined);
      this.buf = EMPTY;
    } else {
      this.segs.push(used);
      this.buf = this.buf.subarray(this.off);
      this.shared = true;
    }
    this.off = 0;
  }

  /**
   * Nothing more comes for now: what follows (if anything) starts a new run after what is here.
   * With a packer, a full-size chunk at most half full is copied there and reused at once.
   */
  close(pack?: Packer): void {
    const ab = this.buf.buffer as ArrayBuffer;
    if (
      pack !== undefined &&
      !this.deflate &&
      !this.shared &&
      this.off > 0 &&
      this.off <= MAX_CHUNK / 2 &&
      this.buf.length === MAX_CHUNK &&
      OWN_CHUNKS.has(ab)
    ) {
      this.segs.push(pack.copy(this.buf.subarray(0, this.off)));
      giveBack(ab);
      this.buf = EMPTY;
      this.off = 0;
      return;
    }
    this.seal();
    this.z = null;
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

  /** The value of a line written by reference; false (nothing valid written) as `end`. */
  value(value: number | string): boolean {
    const off =
      typeof value === 'string'
        ? writeDecimal(this.buf, this.off, value)
        : writeNumber(this.buf, this.off, value);
    if (off < 0) return false;
    this.off = off;
    return true;
  }

  /**
   * End a line after its labels: `} VALUE\n`. A string value must be a decimal number (see
   * `writeDecimal`); for one that is not, nothing is written and false is returned.
   */
  end(value: number | string): boolean {
    const start = this.off;
    this.buf[this.off++] = 0x7d; // }
    this.buf[this.off++] = 0x20;
    if (!this.value(value)) {
      this.off = start;
      return false;
    }
    this.buf[this.off++] = 0x0a;
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

/**
 * Label bytes made once per value and handed out again (at most `keep` values kept; beyond, made per
 * call): for suffixes such as `,state="..."`, whose values are few. The same Buffer each time is also
 * what lets a scrape's dict store a suffix once (see Exposition.put).
 */
export function labelBytesOf(render: (v: string) => string, keep: number): (v: string) => Buffer {
  const made = new Map<string, Buffer>();
  return (v) => {
    let b = made.get(v);
    if (b === undefined) {
      b = labelBytes(render(v));
      if (made.size < keep) made.set(v, b);
    }
    return b;
  };
}

/**
 * A typed array with room for `n` elements: the same one, or a copy a quarter bigger (not twice:
 * the events state of 50,000 tunnels is ~25 MB of rows, and doubling would hold up to as much again
 * unused).
 */
export function room<A extends Float64Array | Int32Array | Uint32Array>(a: A, n: number): A {
  if (n <= a.length) return a;
  const bigger = new (a.constructor as new (n: number) => A)(Math.max(n, Math.ceil(1.25 * a.length)));
  bigger.set(a);
  return bigger;
}

/**
 * Label sets kept for long (a collector's state), by number: the bytes of all of them in one growing
 * buffer and where each ends, so that a state of 100,000 label sets is two allocations, not 100,000
 * Buffer views (~70 bytes of heap each). Made with labelBytes they would also be slices of Buffer's
 * shared 8 KiB pool, each keeping alive the slab it came from.
 */
export class LabelStore {
  /** The bytes of every label set, one after the other (read by the expander, see TextReader). */
  buf: Buffer = EMPTY;
  private used = 0;
  /** Label set i is buf[ends[i], ends[i + 1]). */
  ends = new Uint32Array(64);
  /** How many label sets are kept. */
  size = 0;

  /** Keep a label set (`a="x",b="y"`); its number, counting from 0. */
  add(labels: string): number {
    const n = Buffer.byteLength(labels);
    this.grow(n);
    this.buf.write(labels, this.used);
    return this.ended(n);
  }

  /** Keep a label set given as bytes; its number. */
  addBytes(labels: Uint8Array): number {
    const n = labels.length;
    this.grow(n);
    this.buf.set(labels, this.used);
    return this.ended(n);
  }

  /** Keep every label set of another store, in its order; the number the first one gets here. */
  addAll(other: LabelStore): number {
    const first = this.size;
    const start = other.ends[0] as number;
    const n = (other.ends[other.size] as number) - start;
    this.grow(n);
    other.buf.copy(this.buf, this.used, start, start + n);
    this.ends = room(this.ends, this.size + other.size + 1);
    for (let i = 1; i <= other.size; i++)
      this.ends[first + i] = this.used + (other.ends[i] as number) - start;
    this.used += n;
    this.size += other.size;
    return first;
  }

  /** Forget every label set (the memory is kept for the next ones). */
  clear(): void {
    this.used = 0;
    this.size = 0;
  }

  /** Bytes of label set i. */
  length(i: number): number {
    return (this.ends[i + 1] as number) - (this.ends[i] as number);
  }

  private grow(n: number): void {
    if (this.used + n <= this.buf.length) return;
    const bigger = Buffer.allocUnsafeSlow(
      Math.max(1 << 12, Math.ceil(1.25 * this.buf.length), this.used + n),
    );
    this.buf.copy(bigger, 0, 0, this.used);
    this.buf = bigger;
  }

  private ended(n: number): number {
    this.used += n;
    this.ends = room(this.ends, this.size + 2);
    this.ends[++this.size] = this.used;
    return this.size - 1;
  }

  /** Label set i as a view (made for one write; it dies young). */
  view(i: number): Uint8Array {
    const start = this.ends[i] as number;
    return new Uint8Array(this.buf.buffer, this.buf.byteOffset + start, (this.ends[i + 1] as number) - start);
  }

  /** Write a sample with label set i and an optional suffix (see `Exposition.put`). */
  put(out: Exposition, f: Family, i: number, suffix: Uint8Array | null, value: number | string): boolean {
    return out.putStored(f, this, i, suffix, value);
  }
}

/** The dict of the last scrape that is done with, kept for the next one (no growing it again). */
let spareDict: LabelStore | null = null;

/** A dict for the expositions of one scrape (see Exposition): the last scrape's, emptied, if free. */
export function scrapeDict(): LabelStore {
  const d = spareDict ?? new LabelStore();
  spareDict = null;
  d.clear();
  return d;
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

/** First byte of a line written by reference (a text line starts with its family's name). */
const REF = 0x01;
/** Suffix reference of a line without suffix. */
const NO_SUFFIX = 0xffffffff;
/** Bytes of a line by reference before its value: tag, label set, suffix, length of the value. */
const REF_HEAD = 10;

export class Exposition {
  private readonly bodies = new Map<Family, Body>();
  /** The same bodies by family ordinal. */
  private byOrdinal: (Body | undefined)[] = [];
  /** Number of samples written. */
  samples = 0;
  private recycled = false;
  private readonly use: ChunkUse = { taken: 0 };
  private readonly pack = new Packer(this.use);
  /**
   * Label sets of lines written by reference (see `put`), shared by the expositions of one scrape;
   * undefined: every line is written as text.
   */
  readonly dict: LabelStore | undefined;
  /** The last label sets `put` was given and their numbers in dict (one SA's sets are used in turn). */
  private readonly seen: (Uint8Array | null)[] = [null, null, null, null];
  private readonly seenRef = [0, 0, 0, 0];
  private nextSeen = 0;
  /** Suffixes (a handful of constants) and stores (see putStored) by their numbers in dict. */
  private readonly suffixRefs = new Map<Uint8Array, number>();
  private lastSuffix: Uint8Array | null = null;
  private lastSuffixRef = NO_SUFFIX;
  private readonly storeRefs = new Map<LabelStore, { first: number; size: number }>();

  /**
   * `deflate`: made for a gzip client, so big families are deflated while they are written (see
   * Deflating); `parts()` then gives the response, `render()` cannot.
   * `dict`: lines of `put` are kept as references to their label sets, stored once in `dict`, and
   * made text when read (see TextReader): at 10,000 tunnels ~30 MB held instead of ~90 MB of text.
   * Not with `deflate`, whose text is deflated as it is written.
   */
  constructor(
    readonly deflate = false,
    dict?: LabelStore,
  ) {
    this.dict = deflate ? undefined : dict;
  }

  private body(f: Family): Body {
    // By the family's ordinal: an array index per line instead of a Map lookup.
    const known = this.byOrdinal[f.ordinal];
    if (known !== undefined) return known;
    if (this.recycled) throw new Error('exposition used after recycle()');
    const b = new Body(this.deflate, this.use, this.pack);
    this.bodies.set(f, b);
    this.byOrdinal[f.ordinal] = b;
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
      const from = b.off;
      b.text(line);
      b.textLen += b.off - from;
      return;
    }
    const head = open(f);
    const v = typeof value === 'string' ? value : null;
    b.room(head.length + labels.length * 3 + 3 + (v === null ? VALUE_ROOM : v.length * 3));
    const from = b.off;
    b.bytes(head);
    b.text(labels);
    if (v === null) b.end(value);
    else b.text(`} ${v}\n`);
    b.textLen += b.off - from;
  }

  /**
   * Add a sample from label bytes (`labelBytes`) and an optional suffix of more label bytes (a
   * constant such as `,direction="in"`). A string value is written only when it is a decimal number
   * (optional minus, up to 23 digits); otherwise nothing is written and false is returned.
   * With a dict, the line is kept as the numbers of its label set and suffix there and its value.
   */
  put(f: Family, labels: Uint8Array, suffix: Uint8Array | null, value: number | string): boolean {
    if (this.dict !== undefined) return this.putRef(f, this.labelRef(labels), labels.length, suffix, value);
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
    b.textLen += b.off - start;
    this.samples++;
    return true;
  }

  /** `put` with label set i of a store kept across scrapes (copied into dict once per exposition). */
  putStored(
    f: Family,
    store: LabelStore,
    i: number,
    suffix: Uint8Array | null,
    value: number | string,
  ): boolean {
    const dict = this.dict;
    if (dict === undefined) return this.put(f, store.view(i), suffix, value);
    let at = this.storeRefs.get(store);
    if (at === undefined || at.size !== store.size) {
      at = { first: dict.addAll(store), size: store.size };
      this.storeRefs.set(store, at);
    }
    return this.putRef(f, at.first + i, store.length(i), suffix, value);
  }

  /** The number of a label set in dict: added unless it is one of the last few seen. */
  private labelRef(labels: Uint8Array): number {
    const seen = this.seen;
    for (let k = 0; k < 4; k++) if (seen[k] === labels) return this.seenRef[k] as number;
    const ref = (this.dict as LabelStore).addBytes(labels);
    const k = this.nextSeen;
    seen[k] = labels;
    this.seenRef[k] = ref;
    this.nextSeen = (k + 1) & 3;
    return ref;
  }

  private putRef(
    f: Family,
    ref: number,
    labelsLen: number,
    suffix: Uint8Array | null,
    value: number | string,
  ): boolean {
    let sref = NO_SUFFIX;
    if (suffix === this.lastSuffix) sref = this.lastSuffixRef;
    else if (suffix !== null) {
      const known = this.suffixRefs.get(suffix);
      if (known !== undefined) sref = known;
      else {
        sref = (this.dict as LabelStore).addBytes(suffix);
        // Suffixes are constants or a few combinations; one made per line is stored per line.
        if (this.suffixRefs.size < 256) this.suffixRefs.set(suffix, sref);
      }
      this.lastSuffix = suffix;
      this.lastSuffixRef = sref;
    }
    const b = this.body(f);
    b.room(REF_HEAD + VALUE_ROOM);
    const buf = b.buf;
    const start = b.off;
    buf[start] = REF;
    buf[start + 1] = ref;
    buf[start + 2] = ref >>> 8;
    buf[start + 3] = ref >>> 16;
    buf[start + 4] = ref >>> 24;
    buf[start + 5] = sref;
    buf[start + 6] = sref >>> 8;
    buf[start + 7] = sref >>> 16;
    buf[start + 8] = sref >>> 24;
    b.off = start + REF_HEAD;
    if (!b.value(value)) {
      b.off = start;
      return false;
    }
    const len = b.off - start - REF_HEAD;
    buf[start + 9] = len;
    b.refs = true;
    // name{ labels suffix } value\n
    b.textLen += f.name.length + 1 + labelsLen + (suffix === null ? 0 : suffix.length) + 3 + len;
    this.samples++;
    return true;
  }

  /** Move every sample of another exposition into this one. */
  absorb(other: Exposition): void {
    for (const [f, theirs] of other.bodies) {
      if (theirs.refs && other.dict !== this.dict)
        throw new Error('absorb(): lines by reference into an exposition of another dict');
      const mine = this.body(f);
      mine.close();
      theirs.close(this.pack);
      for (const c of theirs.segs) mine.segs.push(c);
      mine.textLen += theirs.textLen;
      if (theirs.refs) mine.refs = true;
    }
    other.bodies.clear();
    other.byOrdinal = [];
    this.samples += other.samples;
    this.use.taken += other.use.taken;
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
      for (const c of b.segs) {
        if (Buffer.isBuffer(c)) buffers.add(c.buffer as ArrayBuffer);
        else for (const piece of c.out) if (piece !== undefined) buffers.add(piece.buffer as ArrayBuffer);
      }
      buffers.add(b.buf.buffer as ArrayBuffer);
    }
    this.bodies.clear();
    this.byOrdinal = [];
    for (const ab of buffers) if (OWN_CHUNKS.has(ab)) giveBack(ab);
    if (this.dict !== undefined) spareDict = this.dict;
    // A deflating exposition gave its chunks back as it went: what it took bounds what it needs.
    const keep = Math.max(MIN_FREE_CHUNKS, 2 * this.use.taken);
    if (FREE_CHUNKS.length > keep) FREE_CHUNKS.length = keep;
  }

  /**
   * Every family that has samples, in definition order, with HELP and TYPE once each, as byte chunks
   * to be written one after the other (no copy of the whole exposition is ever made).
   */
  render(format: Format = 'prometheus'): Buffer[] {
    const out: Buffer[] = [];
    const r = this.reader(format, false);
    for (let c = r.next(); c !== undefined; c = r.next()) out.push(c);
    return out;
  }

  /**
   * The text of every family that has samples, in definition order, with HELP and TYPE once each,
   * piece by piece (see TextReader). `pooled`: the pieces it makes are chunks of the free list, to
   * be given back with `release` once written out. Several readers may read one exposition.
   */
  reader(format: Format = 'prometheus', pooled = true): TextReader {
    const families = this.families();
    for (const [, b] of families) {
      b.seal();
      for (const c of b.segs)
        if (!Buffer.isBuffer(c)) throw new Error('text of a deflating exposition: use parts()');
    }
    return new TextReader(families, format, this.dict, pooled ? this.use : null);
  }

  /**
   * Whether its lines are kept by reference to a label dictionary (a plain scrape): its plain text is
   * then best made as it is written out (reader, textLength), not copied into parts first.
   */
  get byReference(): boolean {
    return this.dict !== undefined;
  }

  /** Bytes of the text (what a reader gives). */
  textLength(format: Format = 'prometheus'): number {
    let n = 0;
    for (const [f, b] of this.bodies) n += header(f, format).length + b.textLen;
    return n;
  }

  /**
   * The same, with the families deflated while written as deflated runs (resolves when their
   * streams have ended). The exposition is done with: what is written later starts new runs.
   */
  async parts(format: Format = 'prometheus'): Promise<Part[]> {
    if (!this.deflate) return this.render(format);
    const out: (Part | Promise<DeflatedRun>)[] = [];
    for (const [f, b] of this.families()) {
      b.close(this.pack);
      out.push(header(f, format));
      for (const c of b.segs) out.push(Buffer.isBuffer(c) ? c : c.run());
    }
    return Promise.all(out);
  }

  private families(): [Family, Body][] {
    if (this.recycled) throw new Error('exposition used after recycle()');
    return [...this.bodies].sort(([a], [b]) => a.ordinal - b.ordinal);
  }

  /** The same as one string (for tests and small expositions). */
  text(format: Format = 'prometheus'): string {
    return Buffer.concat(this.render(format)).toString('utf8');
  }
}

/**
 * The text of an exposition, made piece by piece as a response is written: HELP and TYPE, and the
 * chunks of families written as text, are given as they are; families with lines by reference are
 * made text into full-size chunks (the line's family name, its label set and suffix from the dict,
 * its value), so that a scrape holds its lines as ~20 bytes each and only the few chunks being
 * written as text.
 */
export class TextReader {
  private fi = 0;
  /** Next segment of the current family; -1: its header comes next. */
  private si = -1;
  /** Where in the current segment the next line starts. */
  private pos = 0;
  private readonly made = new Set<ArrayBuffer>();

  constructor(
    private readonly families: readonly [Family, Body][],
    private readonly format: Format,
    private readonly dict: LabelStore | undefined,
    private readonly use: ChunkUse | null,
  ) {}

  /** The next piece of text; undefined at the end. */
  next(): Buffer | undefined {
    for (;;) {
      const fam = this.families[this.fi];
      if (fam === undefined) return undefined;
      const [f, b] = fam;
      if (this.si < 0) {
        this.si = 0;
        this.pos = 0;
        return header(f, this.format);
      }
      const seg = b.segs[this.si] as Buffer | undefined;
      if (seg === undefined) {
        this.fi++;
        this.si = -1;
        continue;
      }
      if (!b.refs) {
        this.si++;
        return seg;
      }
      if (this.pos >= seg.length) {
        this.si++;
        this.pos = 0;
        continue;
      }
      return this.expand(open(f), b);
    }
  }

  /** Give a piece back once it is written out (pieces this reader made return to the free list). */
  release(piece: Buffer): void {
    const ab = piece.buffer as ArrayBuffer;
    if (this.made.delete(ab)) giveBack(ab);
  }

  /** Lines of the family from here on, made text into a new chunk, as many as fit. */
  private expand(head: Buffer, b: Body): Buffer {
    let out: Buffer;
    const first = this.lineLength(head, b.segs[this.si] as Buffer, this.pos);
    if (first > MAX_CHUNK) out = Buffer.allocUnsafe(first);
    else if (this.use !== null) {
      out = newChunk(MAX_CHUNK, this.use);
      this.made.add(out.buffer as ArrayBuffer);
    } else out = Buffer.allocUnsafeSlow(MAX_CHUNK);
    let o = 0;
    // Through the family's segments until the chunk is full.
    for (;;) {
      const seg = b.segs[this.si] as Buffer | undefined;
      if (seg === undefined) break;
      o = this.fill(head, seg, out, o);
      if (this.pos < seg.length) break;
      this.si++;
      this.pos = 0;
    }
    return out.subarray(0, o);
  }

  /** Bytes of the line at `i` as text. */
  private lineLength(head: Buffer, src: Buffer, i: number): number {
    if (src[i] !== REF) return src.indexOf(0x0a, i) + 1 - i;
    const ends = (this.dict as LabelStore).ends;
    const l = src.readUInt32LE(i + 1);
    const x = src.readUInt32LE(i + 5);
    const sfx = x === NO_SUFFIX ? 0 : (ends[x + 1] as number) - (ends[x] as number);
    return head.length + (ends[l + 1] as number) - (ends[l] as number) + sfx + 3 + (src[i + 9] as number);
  }

  /** Write lines of `src` from this.pos into `out` at `o` while they fit; the offset after them. */
  private fill(head: Buffer, src: Buffer, out: Buffer, o: number): number {
    const dict = this.dict as LabelStore;
    const ends = dict.ends;
    const d = dataView(dict.buf);
    const s = dataView(src);
    const t = dataView(out);
    const h = dataView(head);
    const cap = out.length;
    const n = src.length;
    const hl = head.length;
    let i = this.pos;
    while (i < n) {
      if (src[i] !== REF) {
        // A line written as text.
        const j = src.indexOf(0x0a, i) + 1;
        if (o + j - i > cap) break;
        o = copyBytes(s, i, j, t, o);
        i = j;
        continue;
      }
      const lref = s.getUint32(i + 1, true);
      const sref = s.getUint32(i + 5, true);
      // The value is src[i + REF_HEAD, j).
      const j = i + REF_HEAD + (src[i + 9] as number);
      const ls = ends[lref] as number;
      const le = ends[lref + 1] as number;
      let ss = 0;
      let se = 0;
      if (sref !== NO_SUFFIX) {
        ss = ends[sref] as number;
        se = ends[sref + 1] as number;
      }
      if (o + hl + (le - ls) + (se - ss) + 3 + (j - i - REF_HEAD) > cap) break;
      o = copyBytes(h, 0, hl, t, o);
      o = copyBytes(d, ls, le, t, o);
      o = copyBytes(d, ss, se, t, o);
      out[o++] = 0x7d; // }
      out[o++] = 0x20;
      o = copyBytes(s, i + REF_HEAD, j, t, o);
      out[o++] = 0x0a;
      i = j;
    }
    this.pos = i;
    return o;
  }
}

const dataView = (b: Buffer): DataView => new DataView(b.buffer, b.byteOffset, b.length);

/**
 * Copy bytes [from, to) of `src` to `dst` at `o`, four at a time; the offset after them. For the
 * short pieces of a line this is twice as fast as a byte loop, and makes no view per copy as
 * Uint8Array.set and Buffer.copy would (one per label set made garbage enough to show).
 */
function copyBytes(src: DataView, from: number, to: number, dst: DataView, o: number): number {
  let k = from;
  for (; k + 4 <= to; k += 4, o += 4) dst.setUint32(o, src.getUint32(k));
  for (; k < to; k++, o++) dst.setUint8(o, src.getUint8(k));
  return o;
}
