// The session a caller uses: one lazily opened connection to one daemon address, commands and streamed
// listings with a timeout each, event subscriptions that survive reconnects, and typed results.
// Registration bookkeeping lives here: a connection registers once per event name and never twice.

import type { DecodeOptions } from './codec.js';
import { type OpOptions, type StreamHandler, ViciConnection } from './connection.js';
import { ViciCommandError, ViciConnectError, ViciUnknownEventError } from './errors.js';
import { str, type ViciInput, type ViciSection } from './message.js';
import { decodePacketMessage, type RawPacket } from './packet.js';
import { connectSocket, formatAddress, parseAddress, type ViciAddress } from './transport.js';

/** Streamed commands and the event each one streams. */
export const STREAMED_COMMANDS: Readonly<Record<string, string>> = {
  'list-sas': 'list-sa',
  'list-conns': 'list-conn',
  'list-policies': 'list-policy',
  'list-certs': 'list-cert',
  'list-authorities': 'list-authority',
};

export interface ClientOptions {
  /** `unix:///path`, a bare path, or `tcp://host:port`. */
  address: string;
  /** Default bound for every call, connecting included. */
  timeoutMs?: number;
  /** Reconnect backoff for subscriptions: first delay, cap. */
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  /** Told when the connection comes up or goes down (for subscriptions, logs and metrics). */
  onState?: (state: 'connected' | 'disconnected', err?: Error) => void;
  /**
   * Told when every subscription of a new connection is registered (or refused by the daemon): from
   * then on no event is missed until the connection is lost.
   */
  onSubscribed?: () => void;
  /** Told when a subscription fails to register (e.g. EVENT_UNKNOWN on an older daemon). */
  onSubscribeError?: (event: string, err: Error) => void;
}

export interface CallOptions {
  timeoutMs?: number;
  decode?: DecodeOptions;
  /** Throw ViciCommandError when the reply says `success = no` (default true). */
  checkSuccess?: boolean;
}

export type EventHandler = (name: string, msg: ViciSection, raw: RawPacket) => void;

export class ViciClient {
  readonly address: ViciAddress;
  readonly where: string;
  readonly timeoutMs: number;
  private conn: ViciConnection | null = null;
  private connecting: Promise<ViciConnection> | null = null;
  private readonly subscriptions = new Map<string, EventHandler>();

  private backoffMs: number;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private closed = false;
  /** Statistics for self-metrics. */
  readonly stats = { connects: 0, connectFailures: 0, disconnects: 0 };

  constructor(private readonly opts: ClientOptions) {
    this.address = parseAddress(opts.address);
    this.where = formatAddress(this.address);
    this.timeoutMs = opts.timeoutMs ?? 5000;
    this.backoffMs = opts.backoffInitialMs ?? 500;
  }

  get connected(): boolean {
    return this.conn !== null && !this.conn.closed;
  }

  /** Events that arrived with nobody asking for them (on the current connection). */
  get unexpectedEvents(): number {
    return this.conn?.unexpectedEvents ?? 0;
  }

  /** Run a non-streamed command. */
  async command(name: string, msg?: ViciInput, opts: CallOptions = {}): Promise<ViciSection> {
    const { conn, op } = await this.prepare(opts);
    const reply = await conn.command(name, msg, op);
    if (opts.checkSuccess !== false) checkSuccess(name, reply);
    return reply;
  }

  /**
   * Run a streamed command (`list-sas`, `list-conns`, ...): `onEvent` gets each streamed message in
   * order, then the promise resolves with the count and the closing response. The whole call, events
   * included, is bounded by the timeout.
   */
  async stream(
    name: string,
    msg: ViciInput | undefined,
    onEvent: StreamHandler,
    opts: CallOptions & { event?: string } = {},
  ): Promise<{ count: number; response: ViciSection }> {
    const event = opts.event ?? STREAMED_COMMANDS[name];
    if (event === undefined) throw new TypeError(`${name}: not a streamed command; pass the event name`);
    const budgetMs = opts.timeoutMs ?? this.timeoutMs;
    const deadline = Date.now() + budgetMs;
    const { conn } = await this.prepare(opts);
    await this.ensureRegistered(conn, event, deadline, name, budgetMs);
    const op: OpOptions = {
      timeoutMs: Math.max(1, deadline - Date.now()),
      decode: opts.decode,
      what: name,
      budgetMs,
    };
    const result = await conn.streamed(name, event, msg, onEvent, op);
    if (opts.checkSuccess !== false) checkSuccess(name, result.response);
    return result;
  }

  /** Collect a streamed listing into an array. */
  async list(name: string, msg?: ViciInput, opts: CallOptions = {}): Promise<ViciSection[]> {
    const out: ViciSection[] = [];
    await this.stream(name, msg, (m) => out.push(m), opts);
    return out;
  }

  /**
   * Subscribe to events (e.g. `ike-updown`). Subscriptions are kept across reconnects: the client
   * reconnects with backoff and registers them again. Rejects with ViciUnknownEventError when the
   * daemon does not know the event (the subscription is then dropped).
   */
  async subscribe(events: string[], handler: EventHandler): Promise<void> {
    for (const e of events) this.subscriptions.set(e, handler);
    const deadline = Date.now() + this.timeoutMs;
    let conn: ViciConnection;
    try {
      conn = await this.connection(deadline);
    } catch (err) {
      this.scheduleReconnect();
      throw err;
    }
    for (const e of events) {
      try {
        await this.ensureRegistered(conn, e, deadline);
      } catch (err) {
        // Only a daemon that does not know the event ends the subscription; a registration that timed
        // out is made again on a new connection.
        if (err instanceof ViciUnknownEventError) this.subscriptions.delete(e);
        else if (!conn.closed) conn.close();
        throw err;
      }
    }
  }

  async unsubscribe(events: string[]): Promise<void> {
    for (const e of events) this.subscriptions.delete(e);
    const conn = this.conn;
    if (conn === null || conn.closed) return;
    for (const e of events) await conn.unregister(e, { timeoutMs: this.timeoutMs });
  }

  /**
   * Reconnect the subscriptions now instead of waiting out the backoff, for a caller that knows the
   * daemon is back (a scrape just reached it): after a long outage the backoff is up to backoffMaxMs,
   * and the events of a restarting daemon (its SAs coming up) would be missed meanwhile. Resolves when
   * connected (registrations follow); on failure the backoff starts again from backoffInitialMs.
   */
  async reconnectNow(timeoutMs = this.timeoutMs): Promise<void> {
    if (this.closed || this.connected || this.subscriptions.size === 0) return;
    if (this.reconnectTimer !== null) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    this.backoffMs = this.opts.backoffInitialMs ?? 500;
    try {
      await this.connection(Date.now() + timeoutMs);
    } catch (err) {
      this.scheduleReconnect();
      throw err;
    }
  }

  /** Close the connection and stop reconnecting. */
  close(): void {
    this.closed = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    this.conn?.close();
    this.conn = null;
  }

  private async prepare(opts: CallOptions): Promise<{ conn: ViciConnection; op: OpOptions }> {
    const timeoutMs = opts.timeoutMs ?? this.timeoutMs;
    const started = Date.now();
    const conn = await this.connection(started + timeoutMs);
    const left = Math.max(1, timeoutMs - (Date.now() - started));
    return { conn, op: { timeoutMs: left, decode: opts.decode, budgetMs: timeoutMs } };
  }

  private async ensureRegistered(
    conn: ViciConnection,
    event: string,
    deadline: number,
    what?: string,
    budgetMs?: number,
  ): Promise<void> {
    await conn.register(event, { timeoutMs: Math.max(1, deadline - Date.now()), what, budgetMs });
  }

  private connection(deadline: number): Promise<ViciConnection> {
    if (this.closed) return Promise.reject(new ViciConnectError(`${this.where}: client closed`));
    if (this.conn !== null && !this.conn.closed) return Promise.resolve(this.conn);
    if (this.connecting === null) {
      this.connecting = this.open(Math.max(1, deadline - Date.now())).finally(() => {
        this.connecting = null;
      });
    }
    return this.connecting;
  }

  private async open(timeoutMs: number): Promise<ViciConnection> {
    let sock: Awaited<ReturnType<typeof connectSocket>>;
    try {
      sock = await connectSocket(this.address, timeoutMs);
    } catch (err) {
      this.stats.connectFailures++;
      throw err;
    }
    if (this.closed) {
      sock.destroy();
      throw new ViciConnectError(`${this.where}: client closed`);
    }
    const conn: ViciConnection = new ViciConnection(sock, this.where, {
      onEvent: (name, raw) => this.dispatch(name, raw),
      onClose: (err) => this.onClose(conn, err),
    });
    this.conn = conn;
    this.stats.connects++;
    this.opts.onState?.('connected');
    // Registrations died with the previous connection: register the subscriptions again.
    if (this.subscriptions.size > 0) void this.resubscribe(conn);
    return conn;
  }

  private async resubscribe(conn: ViciConnection): Promise<void> {
    const deadline = Date.now() + this.timeoutMs;
    for (const e of [...this.subscriptions.keys()]) {
      try {
        await this.ensureRegistered(conn, e, deadline);
        this.backoffMs = this.opts.backoffInitialMs ?? 500;
      } catch (err) {
        if (conn.closed) return; // onClose schedules the next attempt
        if (!(err instanceof ViciUnknownEventError)) {
          // (a timeout, say): registered on a new connection, after the backoff
          conn.close();
          return;
        }
        this.subscriptions.delete(e);
        this.opts.onSubscribeError?.(e, err as Error);
      }
    }
    if (!conn.closed && this.conn === conn) this.opts.onSubscribed?.();
  }

  private dispatch(name: string, raw: RawPacket): boolean {
    const handler = this.subscriptions.get(name);
    if (handler === undefined) return false;
    handler(name, decodePacketMessage(raw), raw);
    return true;
  }

  private onClose(conn: ViciConnection, err: Error | undefined): void {
    if (this.conn === conn) this.conn = null;
    this.stats.disconnects++;
    this.opts.onState?.('disconnected', err);
    if (!this.closed && this.subscriptions.size > 0) this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.closed || this.reconnectTimer !== null) return;
    const max = this.opts.backoffMaxMs ?? 30_000;
    const delay = Math.min(max, this.backoffMs) * (0.8 + Math.random() * 0.4);
    this.backoffMs = Math.min(max, this.backoffMs * 2);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      if (this.closed || this.connected || this.subscriptions.size === 0) return;
      this.connection(Date.now() + this.timeoutMs).catch(() => this.scheduleReconnect());
    }, delay);
    this.reconnectTimer.unref();
  }
}

function checkSuccess(command: string, reply: ViciSection): void {
  const success = str(reply.success);
  if (success !== undefined && success !== 'yes') {
    throw new ViciCommandError(command, str(reply.errmsg) ?? '');
  }
}
