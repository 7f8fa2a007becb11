// Transport: parses VICI addresses and opens the socket (unix path or TCP). It knows nothing of packets.
// Addresses: `unix:///path`, a bare path (`/var/run/charon.vici`), or `tcp://host:port` (`tcp://[::1]:4502`).

import net from 'node:net';
import { ViciConnectError } from './errors.js';

export const DEFAULT_VICI_ADDRESS = 'unix:///var/run/charon.vici';

export type ViciAddress = { kind: 'unix'; path: string } | { kind: 'tcp'; host: string; port: number };

export function parseAddress(uri: string): ViciAddress {
  const s = uri.trim();
  if (s.startsWith('unix://')) {
    const path = s.slice('unix://'.length);
    if (!path) throw new Error(`invalid VICI address "${uri}": empty unix socket path`);
    return { kind: 'unix', path };
  }
  if (s.startsWith('tcp://')) {
    const rest = s.slice('tcp://'.length).replace(/\/$/, '');
    const m = /^(?:\[([^\]]+)\]|([^:/[\]]+)):(\d{1,5})$/.exec(rest);
    const port = m ? Number(m[3]) : Number.NaN;
    if (!m || !(port >= 1 && port <= 65535)) {
      throw new Error(`invalid VICI address "${uri}": expected tcp://host:port`);
    }
    return { kind: 'tcp', host: (m[1] ?? m[2]) as string, port };
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(s)) {
    throw new Error(`invalid VICI address "${uri}": scheme must be unix:// or tcp://`);
  }
  if (!s) throw new Error('invalid VICI address: empty');
  return { kind: 'unix', path: s };
}

export function formatAddress(a: ViciAddress): string {
  return a.kind === 'unix'
    ? `unix://${a.path}`
    : `tcp://${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`;
}

/** Open a socket to the daemon; rejects with ViciConnectError on failure or after timeoutMs. */
export function connectSocket(addr: ViciAddress, timeoutMs: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const where = formatAddress(addr);
    const sock =
      addr.kind === 'unix' ? net.createConnection({ path: addr.path }) : net.createConnection(addr);
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new ViciConnectError(`connect: no connection to ${where} within ${timeoutMs} ms`));
    }, timeoutMs);
    sock.once('connect', () => {
      clearTimeout(timer);
      sock.removeAllListeners('error');
      if (addr.kind === 'tcp') sock.setNoDelay(true);
      resolve(sock);
    });
    sock.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      sock.destroy();
      reject(new ViciConnectError(`connect: ${where}: ${describeErrno(err)}`, { cause: err }));
    });
  });
}

const ERRNO_TEXT: Readonly<Record<string, string>> = {
  ENOENT: 'no such socket (is charon running with the vici plugin?)',
  ECONNREFUSED: 'connection refused',
  EACCES: "permission denied (run as the socket's owner or group)",
  EPERM: "permission denied (run as the socket's owner or group)",
  ENOTSOCK: 'not a socket',
  ECONNRESET: 'connection reset',
  ETIMEDOUT: 'timed out',
  EHOSTUNREACH: 'host unreachable',
  ENOTFOUND: 'host not found',
};

function describeErrno(err: NodeJS.ErrnoException): string {
  const text = err.code ? ERRNO_TEXT[err.code] : undefined;
  return text ? `${text} (${err.code})` : (err.code ?? err.message);
}
