import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { describe, it } from 'node:test';
import zlib from 'node:zlib';
import { gzipPieces, piecesOf } from './gzip.js';
import type { PieceSource } from './shared-text.js';

/** Text-like data with some randomness, cut into pieces of uneven size (some empty). */
function pieces(size: number): Buffer[] {
  const text = Buffer.from(
    Array.from(
      { length: Math.ceil(size / 64) },
      (_, i) => `line{a="${i}",b="${crypto.randomBytes(4).toString('hex')}"} ${i}\n`,
    ).join(''),
  ).subarray(0, size);
  const out: Buffer[] = [];
  for (let pos = 0, k = 0; pos < text.length; k++) {
    const n = k % 7 === 3 ? 0 : 1 + ((pos * 7919) % 300_000);
    out.push(text.subarray(pos, pos + n));
    pos += n;
  }
  return out;
}

describe('gzip of pieces', () => {
  for (const [what, size] of [
    ['empty', 0],
    ['small', 1000],
    ['many pieces', 19 << 20],
  ] as const) {
    it(`is one gzip member that decodes to the text (${what})`, async () => {
      const text = pieces(size);
      const tail = [Buffer.from('# EOF\n'), Buffer.alloc(0)];
      const released: Buffer[] = [];
      let i = 0;
      let out = 0;
      let most = 0;
      const source: PieceSource = {
        next: () => {
          const p = text[i++];
          if (p !== undefined) most = Math.max(most, ++out);
          return p;
        },
        release: (p) => {
          out--;
          released.push(p);
        },
      };
      const gz = Buffer.concat(await gzipPieces(source, tail));
      const whole = Buffer.concat([...text, ...tail]);
      assert.deepEqual(gz.subarray(0, 3), Buffer.from([0x1f, 0x8b, 8]));
      assert.deepEqual(zlib.gunzipSync(gz), whole);
      // one member: the trailer holds the length of the whole, and nothing follows it
      assert.equal(gz.readUInt32LE(gz.length - 4), whole.length);
      assert.equal(released.length, text.length, 'every piece released once deflated');
      assert.ok(most <= 8, `${most} pieces held at once`);
      if (size > 1000) assert.ok(gz.length < whole.length / 2, `compressed ${whole.length} -> ${gz.length}`);
    });
  }

  it('fails when a piece cannot be deflated', async () => {
    const bad = { length: 5 } as unknown as Buffer; // not a buffer: deflating it throws
    const source: PieceSource = {
      next: (() => {
        const ps = [Buffer.from('a'), bad];
        let i = 0;
        return () => ps[i++];
      })(),
      release: () => {},
    };
    await assert.rejects(gzipPieces(source));
    assert.deepEqual(
      zlib.gunzipSync(Buffer.concat(await gzipPieces(piecesOf([Buffer.from('x')])))),
      Buffer.from('x'),
    );
  });
});
