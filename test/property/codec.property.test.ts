// Property tests for the codec and framing. Bounded runs with a fixed seed in CI; the bench's fuzz
// job runs the same properties for longer (FUZZ_RUNS / FUZZ_SEED).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  decodeMessage,
  encodeMessage,
  encodePacket,
  FrameDecoder,
  PacketType,
  parsePacket,
  type Shape,
  ViciError,
  type ViciInput,
  ViciProtocolError,
} from '../../src/vici/index.js';

import { canon } from '../helpers/canon.js';

const runs = Number(process.env.FUZZ_RUNS ?? 300);
const seed = Number(process.env.FUZZ_SEED ?? 20261128);
const params = { numRuns: runs, seed };

const name = fc.string({ maxLength: 30 });
const value = fc.uint8Array({ maxLength: 200 }).map((u) => Buffer.from(u));
const tree: fc.Arbitrary<ViciInput> = fc.letrec<{ section: ViciInput }>((tie) => ({
  section: fc.dictionary(
    name,
    fc.oneof({ depthSize: 'small', maxDepth: 4 }, value, fc.array(value, { maxLength: 5 }), tie('section')),
    { maxKeys: 6 },
  ),
})).section;

// Small alphabets, so that shapes and trees name the same things.
const smallName = fc.constantFrom('a', 'b', 'c', '', 'constructor');
const smallTree: fc.Arbitrary<ViciInput> = fc.letrec<{ section: ViciInput }>((tie) => ({
  section: fc.dictionary(
    smallName,
    fc.oneof({ depthSize: 'small', maxDepth: 4 }, value, fc.array(value, { maxLength: 3 }), tie('section')),
    { maxKeys: 4 },
  ),
})).section;
const shape: fc.Arbitrary<Shape> = fc.letrec<{ shape: Shape }>((tie) => ({
  shape: fc.dictionary(
    fc.constantFrom('a', 'b', 'c', '', '*'),
    fc.oneof({ depthSize: 'small', maxDepth: 4 }, fc.constant(true as const), tie('shape')),
    { maxKeys: 3 },
  ),
})).shape;

// Text as charon sends it (nearly always ASCII; some UTF-8, some bytes that are not UTF-8), in
// messages long enough that the decoder cuts short values from the message made one string.
const asciiValue = fc.string({ maxLength: 40 }).map((v) => Buffer.from(v));
const anyValue = fc.oneof(
  asciiValue,
  fc.string({ unit: 'grapheme', maxLength: 16 }).map((v) => Buffer.from(v)),
  value,
);
function textTreeOf(v: fc.Arbitrary<Buffer>, n: fc.Arbitrary<string>): fc.Arbitrary<ViciInput> {
  return fc.letrec<{ section: ViciInput }>((tie) => ({
    section: fc.dictionary(
      n,
      fc.oneof({ depthSize: 'small', maxDepth: 3 }, v, fc.array(v, { maxLength: 5 }), tie('section')),
      { minKeys: 1, maxKeys: 12 },
    ),
  })).section;
}
const textTree = fc.oneof(
  { arbitrary: textTreeOf(asciiValue, fc.string({ maxLength: 20 })), weight: 3 },
  textTreeOf(anyValue, fc.oneof(fc.string({ maxLength: 20 }), fc.string({ unit: 'grapheme', maxLength: 8 }))),
);

/** A decoded tree with every Buffer made a UTF-8 string (what text decoding must give). */
function asText(e: unknown): unknown {
  if (Buffer.isBuffer(e)) return e.toString('utf8');
  if (Array.isArray(e)) return e.map(asText);
  if (typeof e === 'object' && e !== null)
    return Object.fromEntries(Object.entries(e).map(([k, v]) => [k, asText(v)]));
  return e;
}

/** What `select` should keep of a decoded tree (the reference for the decoder's skipping). */
function filterTree(t: Record<string, unknown>, s: Shape): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(t)) {
    const sub = Object.hasOwn(s, k) ? s[k] : Object.hasOwn(s, '*') ? s['*'] : undefined;
    if (sub === undefined) continue;
    const isSection = typeof v === 'object' && v !== null && !Buffer.isBuffer(v) && !Array.isArray(v);
    out[k] = isSection && sub !== true ? filterTree(v as Record<string, unknown>, sub) : v;
  }
  return out;
}

function onlyTypedErrors(f: () => unknown): void {
  try {
    f();
  } catch (err) {
    if (!(err instanceof ViciError)) throw err;
  }
}

describe('codec properties', () => {
  it('decode(encode(tree)) is the tree', () => {
    fc.assert(
      fc.property(tree, (t) => {
        assert.deepEqual(canon(decodeMessage(encodeMessage(t))), canon(t));
      }),
      params,
    );
  });

  it('text decoding gives each value and name as its UTF-8 text, ASCII or not', () => {
    let longAscii = 0;
    let other = 0;
    fc.assert(
      fc.property(textTree, (t) => {
        const bytes = encodeMessage(t);
        if (bytes.length >= 256 && bytes.every((b) => b < 0x80)) longAscii++;
        else other++;
        assert.deepEqual(
          canon(decodeMessage(bytes, 0, bytes.length, { text: true })),
          canon(asText(decodeMessage(bytes))),
        );
      }),
      params,
    );
    assert.ok(longAscii > runs / 4 && other > runs / 10, `long ASCII ${longAscii}, other ${other}`);
  });

  it('decoding with select keeps exactly what the shape names', () => {
    fc.assert(
      fc.property(smallTree, shape, (t, sh) => {
        const bytes = encodeMessage(t);
        const full = decodeMessage(bytes) as Record<string, unknown>;
        assert.deepEqual(
          canon(decodeMessage(bytes, 0, bytes.length, { select: sh })),
          canon(filterTree(full, sh)),
        );
      }),
      params,
    );
  });

  it('random bytes never throw anything but ViciProtocolError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (u) => {
        const b = Buffer.from(u);
        try {
          decodeMessage(b);
        } catch (err) {
          assert.ok(err instanceof ViciProtocolError, String(err));
        }
        onlyTypedErrors(() => parsePacket(b));
        onlyTypedErrors(() => new FrameDecoder().push(b));
      }),
      params,
    );
  });

  it('mutated valid messages never throw anything but ViciProtocolError', () => {
    fc.assert(
      fc.property(
        tree,
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }),
        fc.nat(),
        (t, flips, cut) => {
          const b = Buffer.from(encodeMessage(t));
          if (b.length === 0) return;
          for (const [pos, byte] of flips) b[pos % b.length] = byte;
          const end = cut % (b.length + 1);
          for (const opts of [{}, { select: { a: { '*': {} }, b: true } as Shape }]) {
            try {
              decodeMessage(b, 0, end, opts);
            } catch (err) {
              assert.ok(err instanceof ViciProtocolError, String(err));
            }
          }
        },
      ),
      params,
    );
  });

  it('what select skips is checked as reading checks it: the same error, at the same offset', () => {
    const outcome = (b: Buffer, end: number, opts: { select?: Shape }) => {
      try {
        decodeMessage(b, 0, end, opts);
        return 'ok';
      } catch (err) {
        return err instanceof ViciProtocolError ? err.message : `not a protocol error: ${String(err)}`;
      }
    };
    let failed = 0;
    fc.assert(
      fc.property(
        smallTree,
        shape,
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
        fc.nat(),
        (t, sh, flips, cut) => {
          const b = Buffer.from(encodeMessage(t));
          if (b.length === 0) return;
          for (const [pos, byte] of flips) b[pos % b.length] = byte;
          const end = cut % (b.length + 1);
          const whole = outcome(b, end, {});
          if (whole !== 'ok') failed++;
          assert.equal(outcome(b, end, { select: sh }), whole);
          assert.equal(outcome(b, end, { select: {} }), whole, 'everything skipped');
        },
      ),
      params,
    );
    assert.ok(failed > runs / 4, `only ${failed} of ${runs} mutated messages were malformed`);
  });

  it('a shape that names itself keeps every level', () => {
    const all: Record<string, unknown> = {};
    all['*'] = all;
    const t = { a: { b: { c: '1', d: ['x'] } }, e: '2' };
    const bytes = encodeMessage(t);
    assert.deepEqual(
      canon(decodeMessage(bytes, 0, bytes.length, { select: all as Shape })),
      canon(decodeMessage(bytes)),
    );
  });

  it('any split of a frame stream yields the same frames', () => {
    fc.assert(
      fc.property(
        fc.array(tree, { minLength: 1, maxLength: 4 }),
        fc.array(fc.nat(), { maxLength: 8 }),
        (trees, cuts) => {
          const frames = trees.map((t) => encodePacket(PacketType.CMD_REQUEST, 'x', t));
          const all = Buffer.concat(frames);
          const points = [...new Set(cuts.map((c) => c % (all.length + 1)))].sort((a, b) => a - b);
          const d = new FrameDecoder();
          const got: Buffer[] = [];
          let prev = 0;
          for (const p of [...points, all.length]) {
            got.push(...d.push(all.subarray(prev, p)));
            prev = p;
          }
          assert.deepEqual(
            got,
            frames.map((f) => f.subarray(4)),
          );
        },
      ),
      params,
    );
  });
});
