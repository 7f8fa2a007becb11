import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { describe, it } from 'node:test';
import zlib from 'node:zlib';
import { gzipChunks } from './gzip.js';

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
