// The listening sockets: plain HTTP or HTTPS per the web config, on --web.listen-address or on the
// sockets systemd passed in (socket activation: LISTEN_PID, LISTEN_FDS, fds from 3). Timeouts bound
// slow and idle clients; oversized headers get 431 from Node itself.

import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { type TlsConfig, tlsOptions } from './web-config.js';

export interface ServerLimits {
  /** A client must have sent its whole request head within this time. */
  headersTimeout: number;
  /** ... and its whole request within this time. */
  requestTimeout: number;
  /** An idle kept-alive connection is closed after this time. */
  keepAliveTimeout: number;
  /** Request line plus headers; larger gets 431. */
  maxHeaderSize: number;
  /** How often Node checks the two request timeouts. */
  connectionsCheckingInterval: number;
}

export const SERVER_LIMITS: ServerLimits = {
  headersTimeout: 10_000,
  requestTimeout: 30_000,
  keepAliveTimeout: 5_000,
  maxHeaderSize: 16_384,
  connectionsCheckingInterval: 1_000,
};

export type Server = http.Server | https.Server;

export function createServer(
  handler: http.RequestListener,
  t: TlsConfig | undefined,
  limits: ServerLimits = SERVER_LIMITS,
): Server {
  if (t === undefined) return http.createServer(limits, handler);
  const s = https.createServer({ ...limits, ...tlsOptions(t) }, handler);

  // A TLS handshake that fails (wrong version, no client certificate) is the client's problem.
  s.on('tlsClientError', () => {});
  return s;
}

/** Apply renewed certificates or TLS settings to a running HTTPS server. */
export function updateTls(server: Server, t: TlsConfig): void {
  (server as https.Server).setSecureContext(tlsOptions(t));
}

/** Where to listen: a host (undefined: every address) and a port. */
export interface ListenAddress {
  host: string | undefined;
  port: number;
}

export function listen(server: Server, where: ListenAddress | { fd: number }): Promise<string> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => reject(err);
    server.once('error', onError);
    const done = () => {
      server.off('error', onError);
      const a = server.address() as AddressInfo | string | null;
      if (a !== null && typeof a === 'object')
        resolve(`${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`);
      else resolve('fd' in where ? `fd ${where.fd}` : String(a));
    };
    if ('fd' in where) server.listen({ fd: where.fd }, done);
    else server.listen({ port: where.port, host: where.host }, done);
  });
}

/** The file descriptors systemd passed to this process, or an Error saying why there are none. */
export function systemdFds(env: NodeJS.ProcessEnv = process.env, pid = process.pid): number[] {
  const listenPid = Number(env.LISTEN_PID);
  const n = Number(env.LISTEN_FDS);
  if (!env.LISTEN_PID || listenPid !== pid)
    throw new Error('--web.systemd-socket: no sockets from systemd (LISTEN_PID is not this process)');
  if (!Number.isInteger(n) || n < 1)
    throw new Error('--web.systemd-socket: no sockets from systemd (LISTEN_FDS)');
  return Array.from({ length: n }, (_, i) => 3 + i);
}
