// A scriptable VICI server for unit tests: answers commands from handlers, streams events only to
// connections registered for them (as charon does), and can misbehave on purpose (silence, garbage).
// Tests that need the real daemon use the lab in test/e2e instead.

import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {
  decodePacketMessage,
  encodeMessage,
  FrameDecoder,
  PacketType,
  parsePacket,
  type ViciInput,
  type ViciSection,
} from '../../src/vici/index.js';

export type Reply =
  | { response?: ViciInput; events?: { name: string; message: ViciInput }[] }
  | 'unknown'
  | 'silent'
  | { raw: Buffer };

export type Handler = (request: ViciSection, conn: FakeConn) => Reply | Promise<Reply>;

export function frame(type: number, name?: string, body: Buffer = Buffer.alloc(0)): Buffer {
  const nameBytes = name === undefined ? Buffer.alloc(0) : Buffer.from(name);
  const head = name === undefined ? Buffer.from([type]) : Buffer.from([type, nameBytes.length]);
  const data = Buffer.concat([head, nameBytes, body]);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  return Buffer.concat([len, data]);
}

export class FakeConn {
  readonly registered = new Map<string, number>();
  constructor(readonly socket: net.Socket) {}
  sendEvent(name: string, message: ViciInput): void {
    this.socket.write(frame(PacketType.EVENT, name, encodeMessage(message)));
  }
}

export class FakeCharon {
  readonly handlers = new Map<string, Handler>();
  readonly conns = new Set<FakeConn>();
  /** Every request seen, in order: [type, name]. */
  readonly log: [number, string | undefined][] = [];
  readonly knownEvents = new Set([
    'list-sa',
    'list-conn',
    'list-cert',
    'list-policy',
    'ike-updown',
    'child-updown',
  ]);
  private server: net.Server;
  address = '';
  private dir: string | undefined;

  constructor() {
    this.server = net.createServer((s) => this.accept(s));
  }

  on(command: string, handler: Handler): this {
    this.handlers.set(command, handler);
    return this;
  }

  async listenUnix(): Promise<string> {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fake-charon-'));
    const p = path.join(this.dir, 'charon.vici');
    await new Promise<void>((r) => this.server.listen(p, r));
    this.address = `unix://${p}`;
    return this.address;
  }

  async listenTcp(): Promise<string> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    const a = this.server.address() as net.AddressInfo;
    this.address = `tcp://127.0.0.1:${a.port}`;
    return this.address;
  }

  /** Send an event to every connection registered for it (as charon does for ike-updown & co). */
  broadcast(name: string, message: ViciInput): void {
    for (const c of this.conns) {
      const n = c.registered.get(name) ?? 0;
      for (let i = 0; i < n; i++) c.sendEvent(name, message);
    }
  }

  dropConnections(): void {
    for (const c of this.conns) c.socket.destroy();
    this.conns.clear();
  }

  async close(): Promise<void> {
    this.dropConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
    if (this.dir) fs.rmSync(this.dir, { recursive: true, force: true });
  }

  /** How many of the next event registrations get no answer at all. */
  silentRegistrations = 0;

  private accept(socket: net.Socket): void {
    const conn = new FakeConn(socket);
    this.conns.add(conn);
    const decoder = new FrameDecoder();
    let queue = Promise.resolve();
    socket.on('error', () => {});
    socket.on('close', () => this.conns.delete(conn));
    socket.on('data', (chunk: Buffer) => {
      let frames: Buffer[];
      try {
        frames = decoder.push(chunk);
      } catch {
        socket.destroy();
        return;
      }
      for (const data of frames) {
        // charon handles one packet at a time, in order.
        queue = queue.then(() => this.handle(conn, data)).catch(() => void socket.destroy());
      }
    });
  }

  private async handle(conn: FakeConn, data: Buffer): Promise<void> {
    const p = parsePacket(data);
    this.log.push([p.type, p.name]);
    const name = p.name ?? '';
    const write = (b: Buffer) => conn.socket.write(b);
    switch (p.type) {
      case PacketType.EVENT_REGISTER:
        if (this.silentRegistrations > 0) {
          this.silentRegistrations--;
          return; // never answered: the client's registration times out
        }
        if (!this.knownEvents.has(name)) return void write(frame(PacketType.EVENT_UNKNOWN));
        conn.registered.set(name, (conn.registered.get(name) ?? 0) + 1);
        return void write(frame(PacketType.EVENT_CONFIRM));
      case PacketType.EVENT_UNREGISTER: {
        const n = conn.registered.get(name) ?? 0;
        if (n === 0) return void write(frame(PacketType.EVENT_UNKNOWN));
        conn.registered.set(name, n - 1);
        return void write(frame(PacketType.EVENT_CONFIRM));
      }
      case PacketType.CMD_REQUEST: {
        const h = this.handlers.get(name);
        if (!h) return void write(frame(PacketType.CMD_UNKNOWN));
        const reply = await h(decodePacketMessage(p), conn);
        if (reply === 'unknown') return void write(frame(PacketType.CMD_UNKNOWN));
        if (reply === 'silent') return;
        if ('raw' in reply) return void write(reply.raw);
        for (const e of reply.events ?? []) {
          // Stream events go only to the requester, and only if it registered for them.
          const n = conn.registered.get(e.name) ?? 0;
          for (let i = 0; i < n; i++) conn.sendEvent(e.name, e.message);
        }
        return void write(frame(PacketType.CMD_RESPONSE, undefined, encodeMessage(reply.response ?? {})));
      }
      default:
        return; // charon ignores server-only packet types
    }
  }
}
