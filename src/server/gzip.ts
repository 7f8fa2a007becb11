// gzip of a response made piece by piece: each piece of text is deflated as its own job on libuv's
// thread pool as soon as it is made (raw deflate ending with a sync flush, so that the jobs' output
// is one deflate stream, as pigz does), and the next piece is made only when a job is free: the text
// in flight stays a few pieces. One gzip member, with the CRC-32 and length of the whole.

import zlib from 'node:zlib';
import type { PieceSource } from './shared-text.js';

const HEADER = Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);
/** An empty final block with fixed codes: ends a stream whose every job ended with a sync flush. */
const FINAL_BLOCK = Buffer.from([0x03, 0x00]);
/** Jobs at once: libuv's pool has 4 threads, and a few more keep them busy while pieces are made. */
const MAX_JOBS = 6;

/**
 * Level 1, an 8 KiB window and a smaller hash: ~100 KiB of zlib state per job instead of ~260 KiB,
 * and on exposition text slightly smaller output than the defaults (bench/README.md).
 */
const OPTIONS: zlib.ZlibOptions = {
  level: 1,
  windowBits: 13,
  memLevel: 7,
  chunkSize: 1 << 14,
  finishFlush: zlib.constants.Z_SYNC_FLUSH,
};

function deflate(piece: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    zlib.deflateRaw(piece, OPTIONS, (err, out) => (err ? reject(err) : resolve(out))),
  );
}

/** The gzip body of everything `source` gives, then `tail`. Pieces are released once deflated. */
export async function gzipPieces(source: PieceSource, tail: readonly Buffer[] = []): Promise<Buffer[]> {
  const out: Buffer[] = [HEADER];
  const running = new Set<Promise<void>>();
  let crc = 0;
  let length = 0;
  let t = 0;
  let failed: unknown;
  for (;;) {
    const own = t === 0 ? source.next() : undefined;
    const piece = own ?? tail[t++];
    if (piece === undefined) break;
    if (piece.length === 0) {
      if (own !== undefined) source.release(own);
      continue;
    }
    crc = zlib.crc32(piece, crc);
    length += piece.length;
    const at = out.length;
    out.push(piece);
    const job: Promise<void> = deflate(piece).then(
      (d) => {
        out[at] = d;
      },
      (err: unknown) => {
        failed ??= err;
      },
    );
    const settled = job.finally(() => {
      running.delete(settled);
      if (own !== undefined) source.release(own);
    });
    running.add(settled);
    if (running.size >= MAX_JOBS) await Promise.race(running);
    if (failed !== undefined) break;
  }
  await Promise.all(running);
  if (failed !== undefined) throw failed;
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(crc >>> 0, 0);
  trailer.writeUInt32LE(length % 2 ** 32, 4);
  out.push(FINAL_BLOCK, trailer);
  return out;
}

/** A source of the given buffers (for bodies that are made at once). */
export function piecesOf(buffers: readonly Buffer[]): PieceSource {
  let i = 0;
  return { next: () => buffers[i++], release: () => {} };
}
