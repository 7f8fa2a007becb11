// A VICI socket in front of a real one, for the e2e tests: passes every connection through, but while
// it is `deaf` it closes each connection that registers for events (and those that did; a listing's
// registration for its list-* event is not one), so that an
// exporter's subscription is away while its listings still reach the daemon: a subscription gap made
// at will, on a daemon that keeps running.
import fs from 'node:fs';
import net from 'node:net';

/** VICI packet type EVENT_REGISTER (strongSwan's vici protocol). */
const EVENT_REGISTER = 3;

/** The event name of an EVENT_REGISTER packet (its length byte and name follow the type). */
function eventName(packet: Buffer): string {
  const n = packet[5] ?? 0;
  return packet.subarray(6, 6 + n).toString('latin1');
}

export class ViciProxy {
  private readonly server: net.Server;
  private readonly subscribers = new Set<net.Socket>();
  private readonly all = new Set<net.Socket>();
  private deafNow = false;
  /** Connections closed because they registered for events while deaf. */
  dropped = 0;

  constructor(
    private readonly upstream: string,
    readonly path: string,
  ) {
    this.server = net.createServer((client) => this.accept(client));
  }

  get address(): string {
    return `unix://${this.path}`;
  }

  async listen(): Promise<this> {
    fs.rmSync(this.path, { force: true });
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.path, () => resolve());
    });
    return this;
  }

  /** While deaf, subscriptions are closed as soon as they register; the ones there are closed now. */
  set deaf(on: boolean) {
    this.deafNow = on;
    if (on) for (const s of this.subscribers) this.drop(s);
  }

  private drop(s: net.Socket): void {
    this.dropped++;
    s.destroy();
  }

  private accept(client: net.Socket): void {
    const up = net.createConnection(this.upstream);
    this.all.add(client);
    const end = () => {
      client.destroy();
      up.destroy();
      this.subscribers.delete(client);
      this.all.delete(client);
    };
    client.on('close', end).on('error', end);
    up.on('close', end).on('error', end);
    up.pipe(client);
    // Client to daemon: packet by packet (4-byte length, then the packet, whose first byte is its type).
    let buf = Buffer.alloc(0);
    client.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 5) {
        const len = buf.readUInt32BE(0);
        if (buf.length < 4 + len) break;
        const packet = buf.subarray(0, 4 + len);
        buf = buf.subarray(4 + len);
        if (buf.length === 0) buf = Buffer.alloc(0);
        // (a streamed command such as list-sas registers for its list-* event: that is a listing)
        if (packet[4] === EVENT_REGISTER && !eventName(packet).startsWith('list-')) {
          this.subscribers.add(client);
          if (this.deafNow) {
            this.drop(client);
            return;
          }
        }
        up.write(packet);
      }
    });
  }

  async close(): Promise<void> {
    for (const s of this.all) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
    fs.rmSync(this.path, { force: true });
  }
}
