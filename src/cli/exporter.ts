// `strongswan_exporter [flags]`: parse flags, start the HTTP listeners, stop cleanly on SIGTERM/SIGINT.

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { COLLECTORS } from '../collectors/registry.js';
import { createLogger } from '../log.js';
import { SelfMetrics } from '../metrics/self.js';
import { createHandler } from '../server/server.js';
import { Target } from '../server/target.js';
import { VERSION } from '../version.js';
import { type ListenAddress, parseFlags, usage } from './flags.js';

function listen(server: http.Server, addr: ListenAddress): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port: addr.port, host: addr.host }, () => {
      server.off('error', reject);
      resolve(server.address() as AddressInfo);
    });
  });
}

export async function runExporter(argv: string[]): Promise<number> {
  const cfg = parseFlags(argv, COLLECTORS);
  if (cfg.help) {
    process.stdout.write(usage(COLLECTORS));
    return 0;
  }
  if (cfg.version) {
    process.stdout.write(`strongswan_exporter ${VERSION} (node ${process.version})\n`);
    return 0;
  }
  const log = createLogger(cfg.logLevel, cfg.logFormat);
  const target = new Target({
    name: 'default',
    address: cfg.viciAddress,
    timeoutMs: cfg.viciTimeoutMs,
    collectors: cfg.collectors,
    log,
  });
  const handler = createHandler({
    target,
    telemetryPath: cfg.telemetryPath,
    selfMetrics: new SelfMetrics(!cfg.disableExporterMetrics),
    version: VERSION,
    log,
  });
  log.info({ version: VERSION, node: process.version }, 'starting strongswan_exporter');
  log.info(
    {
      address: target.client.where,
      timeout: cfg.viciTimeoutMs / 1000,
      collectors: cfg.collectors.map((c) => c.name).join(','),
    },
    'vici',
  );
  if (process.getuid?.() === 0)
    log.warn({}, 'running as root: the exporter only needs the group of the VICI socket');

  const servers: http.Server[] = [];
  for (const addr of cfg.listen) {
    const server = http.createServer(
      { requestTimeout: 60_000, headersTimeout: 10_000, keepAliveTimeout: 5_000 },
      handler,
    );
    try {
      const a = await listen(server, addr);
      log.info(
        { address: `${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`, tls: false },
        'listening',
      );
    } catch (err) {
      for (const s of servers) s.close();
      target.close();
      throw new Error(
        `listen on ${addr.host ?? ''}:${addr.port}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      );
    }
    servers.push(server);
  }

  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      log.info({ signal }, 'shutting down');
      target.close();
      let open = servers.length;
      for (const s of servers) {
        s.close(() => {
          if (--open === 0) resolve();
        });
        s.closeIdleConnections();
      }
      setTimeout(() => {
        for (const s of servers) s.closeAllConnections();
      }, 5000).unref();
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  return 0;
}
