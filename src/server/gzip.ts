// gzip for big responses, on several of libuv's threads at once: the body is cut into pieces that are
// compressed independently as raw deflate (every piece but the last ends with a sync flush, so their
// concatenation is one valid deflate stream, as pigz does), then wrapped in one gzip member with the
// CRC-32 and length of the whole. Clients see an ordinary single-member gzip body.

import zlib from 'node:zlib';
import type { Part } from '../metrics/exposition.js';

/** Below this, one piece: splitting costs more than it saves. */
const MIN_PIECE_BYTES = 4 << 20;
/** libuv's default thread pool has 4 threads; more pieces than that only queue. */
const MAX_PIECES = 4;
const HEADER = Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);

/** Cut chunks into about `n` runs of similar byte size, without copying the chunks. */
function split(chunks: Buffer[], total: number, n: number): Buffer[][] {
  const out: Buffer[][] = [];
  const target = Math.ceil(total / n);
  let run: Buffer[] = [];
  let size = 0;
  for (const c of chunks) {
    run.push(c);
    size += c.length;
    if (size >= target && out.length < n - 1) {
      out.push(run);
      run = [];
      size = 0;
    }
  }
  if (run.length > 0 || out.length === 0) out.push(run);
  return out;
}

/** Raw deflate of a run of chunks, streamed (no copy of the run); all but the last end with a sync flush. */
function deflatePiece(chunks: Buffer[], last: boolean, level: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const z = zlib.createDeflateRaw({
      level,
      finishFlush: last ? zlib.constants.Z_FINISH : zlib.constants.Z_SYNC_FLUSH,
    });
    const out: Buffer[] = [];
    z.on('data', (d: Buffer) => out.push(d));
    z.on('end', () => resolve(Buffer.concat(out)));
    z.on('error', reject);
    for (const c of chunks) z.write(c);
    z.end();
  });
}

export async function gzipChunks(chunks: Buffer[], level = 1): Promise<Buffer> {
  let total = 0;
  for (const c of chunks) total += c.length;
  const pieces = split(chunks, total, Math.max(1, Math.min(MAX_PIECES, Math.floor(total / MIN_PIECE_BYTES))));
  const deflated = await Promise.all(pieces.map((p, i) => deflatePiece(p, i === pieces.length - 1, level)));
  let crc = 0;
  // Empty chunks are skipped: Node 20.20's crc32 was seen answering 0 for one (an empty self-metrics
  // chunk at the end of a response), which made clients refuse the body ("incorrect data check").
  for (const c of chunks) if (c.length > 0) crc = zlib.crc32(c, crc);
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(crc >>> 0, 0);
  trailer.writeUInt32LE(total % 2 ** 32, 4);
  return Buffer.concat([HEADER, ...deflated, trailer]);
}

// ---- bodies deflated as they were written (see Exposition: a scrape made for a gzip client) ----

const CRC_POLY = 0xedb88320;

/** a * b modulo the CRC-32 polynomial (bit-reflected, as zlib's multmodp). */
function multModP(a: number, b: number): number {
  let m = 0x80000000;
  let p = 0;
  for (;;) {
    if ((a & m) !== 0) {
      p ^= b;
      if ((a & (m - 1)) === 0) break;
    }
    m >>>= 1;
    b = b & 1 ? (b >>> 1) ^ CRC_POLY : b >>> 1;
  }
  return p >>> 0;
}

/** x^(2^k) modulo the polynomial, k = 0..31. */
const X2N: number[] = [];
for (let k = 0, p = 0x40000000; k < 32; k++) {
  X2N.push(p);
  p = multModP(p, p);
}

/** The CRC-32 of A followed by B, from the CRC-32 of each and B's length (zlib's crc32_combine). */
export function crc32Combine(crcA: number, crcB: number, lenB: number): number {
  // x^(8 * lenB) modulo the polynomial, from the table of x^(2^k)
  let p = 0x80000000;
  let n = lenB;
  for (let k = 3; n > 0; k++, n = Math.floor(n / 2)) if (n % 2 === 1) p = multModP(X2N[k & 31] as number, p);
  return (multModP(p, crcA) ^ crcB) >>> 0;
}

/** An empty final block with fixed codes: ends a deflate stream whose every part ended with a sync flush. */
const FINAL_BLOCK = Buffer.from([0x03, 0x00]);
/** Text runs up to this size go out as stored blocks; longer ones are deflated. */
const STORED_MAX = 4096;

/** Deflate blocks that store `text` as it is (after a sync flush the stream is at a byte boundary). */
function stored(text: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let pos = 0; pos < text.length; pos += 0xffff) {
    const piece = text.subarray(pos, pos + 0xffff);
    const head = Buffer.from([0, 0, 0, 0, 0]);
    head.writeUInt16LE(piece.length, 1);
    head.writeUInt16LE(~piece.length & 0xffff, 3);
    out.push(head, piece);
  }
  return out;
}

function deflateRun(chunks: Buffer[]): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    zlib.deflateRaw(
      Buffer.concat(chunks),
      { level: 1, finishFlush: zlib.constants.Z_SYNC_FLUSH },
      (err, out) => (err ? reject(err) : resolve(out)),
    ),
  );
}

/**
 * One gzip member made of parts: runs already deflated are used as they are, text between them is
 * stored or deflated here; the CRC-32 of the whole is combined from the parts'. With no deflated run
 * this is `gzipChunks`.
 */
export async function gzipParts(parts: readonly Part[]): Promise<Buffer[]> {
  if (parts.every((p) => Buffer.isBuffer(p))) return [await gzipChunks(parts as Buffer[])];
  const body: (readonly Buffer[] | Promise<Buffer>)[] = [];
  let crc = 0;
  let total = 0;
  let text: Buffer[] = [];
  let textLen = 0;
  const flushText = () => {
    if (textLen === 0) return;
    body.push(textLen <= STORED_MAX ? stored(Buffer.concat(text)) : deflateRun(text));
    text = [];
    textLen = 0;
  };
  for (const p of parts) {
    if (Buffer.isBuffer(p)) {
      if (p.length === 0) continue;
      crc = zlib.crc32(p, crc);
      total += p.length;
      text.push(p);
      textLen += p.length;
      continue;
    }
    flushText();
    if (p.len === 0) continue;
    crc = crc32Combine(crc, p.crc, p.len);
    total += p.len;
    body.push(p.pieces);
  }
  flushText();
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(crc >>> 0, 0);
  trailer.writeUInt32LE(total % 2 ** 32, 4);
  const out: Buffer[] = [HEADER];
  for (const b of await Promise.all(body)) {
    if (Buffer.isBuffer(b)) out.push(b);
    else for (const piece of b) out.push(piece);
  }
  out.push(FINAL_BLOCK, trailer);
  return out;
}

/** The text of parts: deflated runs are inflated (a plain client joined a scrape made for gzip). */
export async function plainParts(parts: readonly Part[]): Promise<Buffer[]> {
  return Promise.all(
    parts.map((p) =>
      Buffer.isBuffer(p)
        ? p
        : new Promise<Buffer>((resolve, reject) =>
            zlib.inflateRaw(
              Buffer.concat(p.pieces),
              { finishFlush: zlib.constants.Z_SYNC_FLUSH },
              (err, out) => (err ? reject(err) : resolve(out)),
            ),
          ),
    ),
  );
}
