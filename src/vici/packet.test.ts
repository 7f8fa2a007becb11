import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ViciEncodeError, ViciProtocolError } from './errors.js';
import { encodePacket, FrameDecoder, MAX_FRAME_BYTES, PacketType, parsePacket } from './packet.js';

const frames = [
  encodePacket(PacketType.CMD_REQUEST, 'version'),
  encodePacket(PacketType.CMD_REQUEST, 'list-sas', { noblock: 'yes', ike: 'x'.repeat(200) }),
  encodePacket(PacketType.EVENT_REGISTER, 'list-sa'),
];
const stream = Buffer.concat(frames);
const payloads = frames.map((f) => f.subarray(4));

describe('FrameDecoder', () => {
  it('parses many frames in one chunk', () => {
    assert.deepEqual(new FrameDecoder().push(stream), payloads);
  });

  it('parses the same frames whatever the split point (every byte)', () => {
    for (let i = 0; i <= stream.length; i++) {
      const d = new FrameDecoder();
      const got = [...d.push(stream.subarray(0, i)), ...d.push(stream.subarray(i))];
      assert.deepEqual(got, payloads, `split at ${i}`);
      assert.equal(d.pending, 0);
    }
  });

  it('parses a stream fed one byte at a time', () => {
    const d = new FrameDecoder();
    const got: Buffer[] = [];
    for (const b of stream) got.push(...d.push(Buffer.from([b])));
    assert.deepEqual(got, payloads);
  });

  it('rejects a zero length and a length over 512 KiB, then stays failed', () => {
    assert.throws(() => new FrameDecoder().push(Buffer.from([0, 0, 0, 0])), ViciProtocolError);
    const d = new FrameDecoder();
    const big = Buffer.alloc(4);
    big.writeUInt32BE(MAX_FRAME_BYTES + 1);
    assert.throws(() => d.push(big), ViciProtocolError);
    assert.throws(() => d.push(frames[0] as Buffer), ViciProtocolError);
    const two = Buffer.from([0x80, 0, 0, 0]); // 2 GiB announced: refused before any allocation
    assert.throws(() => new FrameDecoder().push(two), /outside 1\.\.524288/);
  });

  it('accepts exactly 512 KiB', () => {
    const data = Buffer.alloc(MAX_FRAME_BYTES, 1);
    data[0] = PacketType.CMD_RESPONSE;
    const head = Buffer.alloc(4);
    head.writeUInt32BE(MAX_FRAME_BYTES);
    const d = new FrameDecoder();
    assert.deepEqual(d.push(head), []);
    assert.equal(d.push(data).length, 1);
  });
});

describe('packets', () => {
  it('refuses to send a frame over 512 KiB', () => {
    assert.throws(
      () =>
        encodePacket(PacketType.CMD_REQUEST, 'load-cert', {
          a: Buffer.alloc(60_000),
          b: Buffer.alloc(60_000),
          c: Array(8).fill(Buffer.alloc(60_000)),
        }),
      ViciEncodeError,
    );
  });

  it('refuses names charon would silently ignore', () => {
    assert.throws(() => encodePacket(PacketType.CMD_REQUEST, 'list\nsas'), ViciEncodeError);
    assert.throws(() => encodePacket(PacketType.CMD_REQUEST, 'zürich'), ViciEncodeError);
    assert.throws(() => encodePacket(PacketType.EVENT_REGISTER, ''), ViciEncodeError);
  });

  it('rejects unknown packet types and truncated names', () => {
    assert.throws(() => parsePacket(Buffer.from([8])), ViciProtocolError);
    assert.throws(() => parsePacket(Buffer.from([7])), ViciProtocolError);
    assert.throws(() => parsePacket(Buffer.from([7, 5, 0x61])), ViciProtocolError);
    assert.equal(parsePacket(Buffer.from([7, 0])).name, '');
  });
});
