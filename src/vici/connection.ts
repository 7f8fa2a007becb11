// One VICI connection: the socket's only reader and writer. It runs one operation at a time (charon
// serialises them anyway and has no request ids), routes EVENT packets by name (stream events to the
// listing that asked for them, everything else to the subscriber callback), and destroys the socket when
// a call times out, because a late reply would otherwise be taken for the answer to the next call.

import type net from 'node:net';
import type { DecodeOptions } from './codec.js';
import {
  ViciClosedError,
  ViciError,
  ViciProtocolError,
  ViciTimeoutError,
  ViciUnknownCommandError,
  ViciUnknownEventError,
} from './errors.js';
import type { ViciInput, ViciSection } from './message.js';
import {
  decodePacketMessage,
  encodePacket,
  FrameDecoder,
  MAX_FRAME_BYTES,
  PacketType,
  parsePacket,
  type RawPacket,
} from './packet.js';

export interface OpOptions {
  timeoutMs: number;
  decode?: DecodeOptions;
  /** For error messages: the operation the caller sees (e.g. `list-sas` while registering `list-sa`). */
  what?: string;
  /** For error messages: the caller's whole budget, when timeoutMs is what is left of it. */
  budgetMs?: number;
}

/**
 * Gets each streamed message. It may return a promise to hold the listing back (backpressure): the
 * socket is not read until the promise settles; the daemon waits, the timeout goes on.
 */
export type StreamHandler = (msg: ViciSection, raw: RawPacket) => unknown;

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';
}

interface Waiting {
  kind: 'command' | 'register' | 'unregister';
  name: string;
  resolve: (p: RawPacket) => void;
  reject: (e: Error) => void;
}

interface ActiveStream {
  event: string;
  handler: StreamHandler;
  decode: DecodeOptions | undefined;
  error: unknown;
  count: number;
}

export interface ConnectionCallbacks {
  /** An EVENT that no active listing asked for. */
  onEvent?: (name: string, raw: RawPacket) => boolean;
  /** The connection is gone; `err` says why (undefined when closed by close()). */
  onClose?: (err: Error | undefined) => void;
}

export class ViciConnection {
  private readonly decoder: FrameDecoder;
  private lock: Promise<void> = Promise.resolve();
  private waiting: Waiting | null = null;
  private stream: ActiveStream | null = null;
  private closedWith: Error | null = null;
  /** Event names this connection is registered for (the daemon registers twice if asked twice). */
  readonly registered = new Set<string>();
  private readonly registering = new Map<string, Promise<void>>();

  /** EVENT packets that arrived with no listing and no subscriber: counted, never mixed in anywhere. */
  unexpectedEvents = 0;
  /** Promises of a stream handler that hold reading back. */
  private holds = 0;

  constructor(
    private readonly socket: net.Socket,
    readonly where: string,
    private readonly callbacks: ConnectionCallbacks = {},
    maxFrameBytes = MAX_FRAME_BYTES,
  ) {
    this.decoder = new FrameDecoder(maxFrameBytes);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err: NodeJS.ErrnoException) =>
      this.fail(
        new ViciClosedError(`${where}: connection error: ${err.code ?? err.message}`, { cause: err }),
      ),
    );
    socket.on('close', () => this.fail(new ViciClosedError(`${where}: connection closed by the daemon`)));
  }

  get closed(): boolean {
    return this.closedWith !== null;
  }

  /** Run a command; resolves with the CMD_RESPONSE message. */
  command(name: string, msg: ViciInput | ViciSection | undefined, opts: OpOptions): Promise<ViciSection> {
    return this.run('command', name, PacketType.CMD_REQUEST, msg, opts).then((p) =>
      this.decode(p, opts.decode),
    );
  }

  /** Decode a reply; a malformed message means the peer cannot be trusted: drop the connection. */
  private decode(p: RawPacket, opts: DecodeOptions | undefined): ViciSection {
    try {
      return decodePacketMessage(p, opts);
    } catch (err) {
      if (err instanceof ViciProtocolError) this.fail(err);
      throw err;
    }
  }

  /**
   * Run a streamed command: every EVENT named `event` until the CMD_RESPONSE goes to `handler`.
   * The connection must already be registered for `event` (charon sends nothing otherwise).
   * Resolves with the number of events and the final response.
   */
  async streamed(
    name: string,
    event: string,
    msg: ViciInput | ViciSection | undefined,
    handler: StreamHandler,
    opts: OpOptions,
  ): Promise<{ count: number; response: ViciSection }> {
    const s: ActiveStream = { event, handler, decode: opts.decode, error: undefined, count: 0 };
    const p = await this.run('command', name, PacketType.CMD_REQUEST, msg, opts, () => {
      this.stream = s;
    });
    if (s.error !== undefined) {
      if (s.error instanceof ViciProtocolError) this.fail(s.error);
      throw s.error;
    }
    return { count: s.count, response: this.decode(p, opts.decode) };
  }

  /** Register for an event once: a registration already done or under way is not sent again. */
  register(event: string, opts: OpOptions): Promise<void> {
    if (this.registered.has(event)) return Promise.resolve();
    let p = this.registering.get(event);
    if (p === undefined) {
      // `registered` is updated when the confirmation is handled (onPacket).
      p = this.run('register', event, PacketType.EVENT_REGISTER, undefined, opts)
        .then(() => {})
        .finally(() => this.registering.delete(event));
      this.registering.set(event, p);
    }
    return p;
  }

  async unregister(event: string, opts: OpOptions): Promise<void> {
    if (!this.registered.has(event)) return;
    await this.run('unregister', event, PacketType.EVENT_UNREGISTER, undefined, opts);
  }

  /** Close the connection; pending calls fail with ViciClosedError. */
  close(): void {
    this.fail(new ViciClosedError(`${this.where}: connection closed`), true);
  }

  private run(
    kind: Waiting['kind'],
    name: string,
    type: PacketType,
    msg: ViciInput | ViciSection | undefined,
    opts: OpOptions,
    beforeSend?: () => void,
  ): Promise<RawPacket> {
    // Encode first: an encoding error must not cost the connection.
    let frame: Buffer;
    try {
      frame = encodePacket(type, name, msg);
    } catch (err) {
      return Promise.reject(err);
    }
    const started = Date.now();
    const result = this.lock.then(
      () =>
        new Promise<RawPacket>((resolve, reject) => {
          if (this.closedWith) return reject(this.closedWith);
          const left = opts.timeoutMs - (Date.now() - started);
          const timeoutError = () =>
            new ViciTimeoutError(
              `${opts.what ?? name}: no reply within ${opts.budgetMs ?? opts.timeoutMs} ms (${this.where})`,
            );
          if (left <= 0) return reject(timeoutError());
          const timer = setTimeout(() => {
            const err = timeoutError();
            reject(err);
            this.fail(err);
          }, left);
          this.waiting = {
            kind,
            name,
            resolve: (p) => {
              clearTimeout(timer);
              resolve(p);
            },
            reject: (e) => {
              clearTimeout(timer);
              reject(e);
            },
          };
          beforeSend?.();
          this.socket.write(frame);
        }),
    );
    this.lock = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  private onData(chunk: Buffer): void {
    if (this.closedWith) return;
    try {
      for (const data of this.decoder.push(chunk)) {
        this.onPacket(parsePacket(data));
        if (this.closedWith) return;
      }
    } catch (err) {
      this.fail(err instanceof ViciError ? err : new ViciProtocolError(String(err)));
    }
  }

  private onPacket(p: RawPacket): void {
    if (p.type === PacketType.EVENT) {
      const name = p.name as string;
      const s = this.stream;
      if (s !== null && name === s.event) {
        s.count++;
        if (s.error === undefined) {
          try {
            const wait = s.handler(decodePacketMessage(p, s.decode), p);
            if (isThenable(wait)) this.holdBack(wait);
          } catch (err) {
            s.error = err;
          }
        }
      } else if (this.callbacks.onEvent && this.registered.has(name)) {
        try {
          if (!this.callbacks.onEvent(name, p)) this.unexpectedEvents++;
        } catch {
          // A subscriber's bug must not cost the connection; the session counts its own failures.
          this.unexpectedEvents++;
        }
      } else {
        this.unexpectedEvents++;
      }
      return;
    }
    const w = this.waiting;
    if (w === null) throw new ViciProtocolError(`unsolicited packet of type ${p.type}`);
    const expect =
      w.kind === 'command'
        ? p.type === PacketType.CMD_RESPONSE || p.type === PacketType.CMD_UNKNOWN
        : p.type === PacketType.EVENT_CONFIRM || p.type === PacketType.EVENT_UNKNOWN;
    if (!expect) throw new ViciProtocolError(`${w.name}: unexpected packet of type ${p.type}`);
    this.waiting = null;
    this.stream = null;
    if (p.type === PacketType.CMD_UNKNOWN) w.reject(new ViciUnknownCommandError(w.name));
    else if (p.type === PacketType.EVENT_UNKNOWN) w.reject(new ViciUnknownEventError(w.name));
    else {
      // Now, not when the promise's reactions run: an event the daemon sends right after its
      // confirmation may be in the same read and is handled before them.
      if (w.kind === 'register') this.registered.add(w.name);
      else if (w.kind === 'unregister') this.registered.delete(w.name);
      w.resolve(p);
    }
  }

  /** Read nothing more from the socket until `wait` settles. */
  private holdBack(wait: PromiseLike<unknown>): void {
    if (this.holds++ === 0) this.socket.pause();
    const release = () => {
      if (--this.holds === 0 && !this.closedWith) this.socket.resume();
    };
    wait.then(release, release);
  }

  private fail(err: Error, quiet = false): void {
    if (this.closedWith) return;
    this.closedWith = err;
    this.socket.destroy();
    const w = this.waiting;
    this.waiting = null;
    this.stream = null;
    this.registered.clear();
    w?.reject(err);
    this.callbacks.onClose?.(quiet ? undefined : err);
  }
}
