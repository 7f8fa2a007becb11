import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { describe, it } from 'node:test';
import zlib from 'node:zlib';
import fc from 'fast-check';
import type { Part } from '../metrics/exposition.js';
import { crc32Combine, gzipChunks, gzipParts, plainParts } from './gzip.js';

describe('parallel gzip', () => {
  it('keeps the CRC across empty chunks', async () => {
    const chunks = Array.from({ length: 97 }, (_, i) => Buffer.from(`line ${i} ${'x'.repeat(i)}\n`));
    for (let i = 0; i < 97; i += 10) chunks.splice(i, 0, Buffer.alloc(0));
    chunks.push(Buffer.alloc(0));
    const gz = await gzipChunks(chunks);
    assert.deepEqual(zlib.gunzipSync(gz), Buffer.concat(chunks));
  });

  for (const [what, size] of [
    ['empty', 0],
    ['small', 1000],
    ['one piece', 3 << 20],
    ['several pieces', 19 << 20],
  ] as const) {
    it(`is one gzip member that decodes to the input (${what})`, async () => {
      // text-like data with some randomness, cut into chunks of uneven size
      const text = Buffer.from(
        Array.from(
          { length: Math.ceil(size / 64) },
          (_, i) => `line{a="${i}",b="${crypto.randomBytes(4).toString('hex')}"} ${i}\n`,
        ).join(''),
      ).subarray(0, size);
      const chunks: Buffer[] = [];
      for (let pos = 0; pos < text.length; ) {
        const n = 1 + ((pos * 7919) % 300_000);
        chunks.push(text.subarray(pos, pos + n));
        pos += n;
      }
      const gz = await gzipChunks(chunks);
      assert.deepEqual(gz.subarray(0, 3), Buffer.from([0x1f, 0x8b, 8]));
      assert.ok(gz.equals(gz), 'a buffer');
      assert.deepEqual(zlib.gunzipSync(gz), text);
      // a single member: decoding stops at its end and nothing follows
      assert.equal(gz.readUInt32LE(gz.length - 4), text.length);
      if (size > 1000) assert.ok(gz.length < text.length / 2, `compressed ${text.length} -> ${gz.length}`);
    });
  }
});

describe('gzip of parts deflated as written', () => {
  it('combines CRC-32s as the CRC-32 of the concatenation', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3000 }), fc.uint8Array({ maxLength: 3000 }), (a, b) => {
        const whole = zlib.crc32(Buffer.concat([a, b]));
        assert.equal(crc32Combine(zlib.crc32(a), zlib.crc32(b), b.length), whole >>> 0);
      }),
      { numRuns: 300 },
    );
    // lengths beyond 2^31 (a 4 GiB response): combining piecewise agrees with combining at once
    const c = (n: number) => crc32Combine(0x12345678, 0x9abcdef0, n);
    assert.equal(crc32Combine(crc32Combine(1, 0, 2 ** 31), 0, 2 ** 31), crc32Combine(1, 0, 2 ** 32));
    assert.notEqual(c(2 ** 32), c(2 ** 32 + 1));
  });

  /** A run as a deflating exposition makes it: raw deflate pieces, each ending with a sync flush. */
  function deflated(text: Buffer, pieces: number): Part {
    const out: Buffer[] = [];
    const step = Math.ceil(text.length / pieces) || 1;
    for (let pos = 0; pos < text.length; pos += step)
      out.push(
        zlib.deflateRawSync(text.subarray(pos, pos + step), {
          level: 1,
          finishFlush: zlib.constants.Z_SYNC_FLUSH,
        }),
      );
    return { pieces: out, crc: zlib.crc32(text) >>> 0, len: text.length };
  }

  it('makes one gzip member of text and deflated runs; plain clients get the text', async () => {
    const text = (n: number, seed: number) =>
      Buffer.from(
        Array.from({ length: n }, (_, i) => `m{a="${(i * seed) % 97}",b="${i}"} ${i * seed}\n`).join(''),
      );
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            deflate: fc.boolean(),
            // empty, stored (<= 4 KiB), deflated here, and more than one stored block (> 64 KiB)
            lines: fc.oneof(
              fc.constant(0),
              fc.integer({ min: 1, max: 100 }),
              fc.integer({ min: 2000, max: 4000 }),
            ),
            pieces: fc.integer({ min: 1, max: 4 }),
          }),
          { maxLength: 8 },
        ),
        async (spec) => {
          const texts = spec.map((p, i) => text(p.lines, i + 3));
          const parts: Part[] = spec.map((p, i) =>
            p.deflate ? deflated(texts[i] as Buffer, p.pieces) : (texts[i] as Buffer),
          );
          const want = Buffer.concat(texts);
          const gz = Buffer.concat(await gzipParts(parts));
          assert.deepEqual(zlib.gunzipSync(gz), want);
          assert.equal(gz.readUInt32LE(gz.length - 4), want.length);
          assert.deepEqual(Buffer.concat(await plainParts(parts)), want);
        },
      ),
      { numRuns: 60 },
    );
  });
});
