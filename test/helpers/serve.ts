// The exporter's HTTP handler on a free port of 127.0.0.1, in process, with one target (the default
// collectors unless told), for tests of the server.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Collector } from '../../src/collectors/collector.js';
import { COLLECTORS } from '../../src/collectors/registry.js';
import type { Logger } from '../../src/log.js';
import { SelfMetrics } from '../../src/metrics/self.js';
import { createHandler } from '../../src/server/server.js';
import { Target } from '../../src/server/target.js';

export interface Served {
  url: string;
  target: Target;
  close(): Promise<void>;
}

export async function serve(
  address: string,
  log: Logger,
  opts: { timeoutMs?: number; collectors?: readonly Collector[]; collectGarbage?: () => void } = {},
): Promise<Served> {
  const target = new Target({
    name: 'default',
    address,
    timeoutMs: opts.timeoutMs ?? 5000,
    collectors: opts.collectors ?? COLLECTORS.filter((c) => c.defaultEnabled),
    log,
    // Chunk reuse checked: a chunk given back while a response still reads it fails the test.
    checkBuffers: true,
    ...(opts.collectGarbage ? { collectGarbage: opts.collectGarbage } : {}),
  });
  const server = http.createServer(
    createHandler({
      target,
      telemetryPath: '/metrics',
      selfMetrics: new SelfMetrics(true),
      version: '9.9.9',
      log,
    }),
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    target,
    close: async () => {
      await target.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
