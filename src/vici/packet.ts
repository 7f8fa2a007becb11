// Packet layer and framing. A frame is `u32 BE length` + data (1..524288 bytes); the data is a packet:
// a type byte, for types 0, 3, 4 and 7 a u8-length name, then the message (possibly empty).
// FrameDecoder turns a byte stream into packets incrementally; it throws only ViciProtocolError.

import { type DecodeOptions, decodeMessage, encodeMessage } from './codec.js';
import { ViciEncodeError, ViciProtocolError } from './errors.js';
import type { ViciInput, ViciSection } from './message.js';

export const PacketType = {
  CMD_REQUEST: 0,
  CMD_RESPONSE: 1,
  CMD_UNKNOWN: 2,
  EVENT_REGISTER: 3,
  EVENT_UNREGISTER: 4,
  EVENT_CONFIRM: 5,
  EVENT_UNKNOWN: 6,
  EVENT: 7,
} as const;
export type PacketType = (typeof PacketType)[keyof typeof PacketType];

/** charon's VICI_MESSAGE_SIZE_MAX: the largest frame payload either side may send. */
export const MAX_FRAME_BYTES = 524_288;

const NAMED: ReadonlySet<number> = new Set([0, 3, 4, 7]);

/** A decoded packet whose message is still raw bytes; `decode()` turns it into a tree on demand. */
export interface RawPacket {
  type: PacketType;
  name: string | undefined;
  /** The frame's data; the message is data[messageStart..]. */
  data: Buffer;
  messageStart: number;
}

export function decodePacketMessage(p: RawPacket, opts?: DecodeOptions): ViciSection {
  return decodeMessage(p.data, p.messageStart, p.data.length, opts);
}

/** A name we send: charon silently ignores packets whose name has a byte outside 0x20..0x7e. */
export function checkName(name: string): Buffer {
  const bytes = Buffer.from(name, 'utf8');
  if (bytes.length === 0 || bytes.length > 255)
    throw new ViciEncodeError(`name "${name}" must be 1..255 bytes`);
  for (const b of bytes) {
    if (b < 0x20 || b > 0x7e) throw new ViciEncodeError(`name "${name}" has a non-printable byte`);
  }
  return bytes;
}

/** Encode a whole frame (header included) for a client packet. */
export function encodePacket(
  type: PacketType,
  name?: string,
  message?: ViciInput | ViciSection | Buffer,
): Buffer {
  const nameBytes = NAMED.has(type) ? checkName(name ?? '') : undefined;
  const body = Buffer.isBuffer(message)
    ? message
    : message === undefined
      ? Buffer.alloc(0)
      : encodeMessage(message);
  const dataLen = 1 + (nameBytes ? 1 + nameBytes.length : 0) + body.length;
  if (dataLen > MAX_FRAME_BYTES) {
    throw new ViciEncodeError(`packet of ${dataLen} bytes exceeds the ${MAX_FRAME_BYTES} byte frame limit`);
  }
  const out = Buffer.allocUnsafe(4 + dataLen);
  out.writeUInt32BE(dataLen, 0);
  out[4] = type;
  let pos = 5;
  if (nameBytes) {
    out[pos++] = nameBytes.length;
    nameBytes.copy(out, pos);
    pos += nameBytes.length;
  }
  body.copy(out, pos);
  return out;
}

/** Parse the packet header of one frame's data. */
export function parsePacket(data: Buffer): RawPacket {
  const type = data[0];
  if (type === undefined || type > 7) throw new ViciProtocolError(`unknown packet type ${type}`);
  if (!NAMED.has(type)) return { type: type as PacketType, name: undefined, data, messageStart: 1 };
  if (data.length < 2) throw new ViciProtocolError('truncated packet name');
  const len = data[1] as number;
  if (2 + len > data.length) throw new ViciProtocolError('packet name runs past the frame');
  return { type: type as PacketType, name: data.toString('utf8', 2, 2 + len), data, messageStart: 2 + len };
}

/**
 * Incremental frame parser: feed it chunks as they come, get whole frames' data back.
 * Handles partial frames and many frames per chunk; rejects length 0 and lengths over maxFrameBytes.
 * After an error it stays failed: the byte stream can no longer be trusted.
 */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private need = -1;
  private failed = false;

  constructor(private readonly maxFrameBytes = MAX_FRAME_BYTES) {}

  /** Bytes held for an incomplete frame. */
  get pending(): number {
    return this.buffered;
  }

  push(chunk: Buffer): Buffer[] {
    if (this.failed) throw new ViciProtocolError('frame decoder used after a protocol error');
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
    }
    const frames: Buffer[] = [];
    for (;;) {
      if (this.need < 0) {
        if (this.buffered < 4) break;
        const len = this.peekLength();
        if (len === 0 || len > this.maxFrameBytes) {
          this.failed = true;
          this.chunks = [];
          this.buffered = 0;
          throw new ViciProtocolError(`frame length ${len} outside 1..${this.maxFrameBytes}`);
        }
        this.take(4);
        this.need = len;
      }
      if (this.buffered < this.need) break;
      frames.push(this.take(this.need));
      this.need = -1;
    }
    return frames;
  }

  private peekLength(): number {
    const first = this.chunks[0] as Buffer;
    if (first.length >= 4) return first.readUInt32BE(0);
    return Buffer.concat(this.chunks, 4).readUInt32BE(0);
  }

  private take(n: number): Buffer {
    const first = this.chunks[0] as Buffer;
    if (first.length >= n) {
      const out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      this.buffered -= n;
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    let pos = 0;
    while (pos < n) {
      const c = this.chunks[0] as Buffer;
      const k = Math.min(c.length, n - pos);
      c.copy(out, pos, 0, k);
      pos += k;
      if (k === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(k);
    }
    this.buffered -= n;
    return out;
  }
}
