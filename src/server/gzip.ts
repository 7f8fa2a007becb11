// gzip for big responses, on several of libuv's threads at once: the body is cut into pieces that are
// compressed independently as raw deflate (every piece but the last ends with a sync flush, so their
// concatenation is one valid deflate stream, as pigz does), then wrapped in one gzip member with the
// CRC-32 and length of the whole. Clients see an ordinary single-member gzip body.

import zlib from 'node:zlib';

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
