// The HTTP side: /metrics (or --web.telemetry-path), the landing page, health and readiness, and
// 404/405 where they belong. It maps scrape outcomes to responses; it never sends a stack trace.

import type http from 'node:http';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import type { Logger } from '../log.js';
import { CONTENT_TYPES, Exposition, type Format, renderLabels } from '../metrics/exposition.js';
import { F } from '../metrics/families.js';
import type { SelfMetrics } from '../metrics/self.js';
import { landingPage } from './landing.js';
import { acceptsGzip, negotiateFormat } from './negotiate.js';
import type { Target } from './target.js';

const gzip = promisify(zlib.gzip);

export interface ServerOptions {
  target: Target;
  telemetryPath: string;
  selfMetrics: SelfMetrics;
  version: string;
  log: Logger;
  /** Offset subtracted from Prometheus' scrape timeout header, in ms. */
  timeoutOffsetMs?: number;
}

export function buildInfo(version: string): Exposition {
  const e = new Exposition();
  e.sample(F.buildInfo, renderLabels(F.buildInfo.labels, [version, process.version]), 1);
  return e;
}

/** The scrape timeout Prometheus announces, minus an offset; undefined when absent or invalid. */
export function headerTimeoutMs(req: http.IncomingMessage, offsetMs: number): number | undefined {
  const h = req.headers['x-prometheus-scrape-timeout-seconds'];
  const v = Number(Array.isArray(h) ? h[0] : h);
  if (!Number.isFinite(v) || v <= 0) return undefined;
  return Math.max(100, v * 1000 - offsetMs);
}

export function createHandler(opts: ServerOptions): http.RequestListener {
  const info = buildInfo(opts.version);
  const offset = opts.timeoutOffsetMs ?? 500;

  async function metrics(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const format: Format = negotiateFormat(req.headers.accept);
    const outcome = await opts.target.scrape(headerTimeoutMs(req, offset));
    let body = outcome.text(format) + info.text(format) + (await opts.selfMetrics.text(format));
    if (format === 'openmetrics') body += '# EOF\n';
    send(req, res, 200, CONTENT_TYPES[format], body, acceptsGzip(req.headers['accept-encoding']));
  }

  return (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const route = url.pathname;
    const known =
      route === opts.telemetryPath || route === '/' || route === '/-/healthy' || route === '/-/ready';
    if (!known) return send(req, res, 404, 'text/plain; charset=utf-8', '404 page not found\n');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return send(req, res, 405, 'text/plain; charset=utf-8', 'method not allowed\n');
    }
    if (route === opts.telemetryPath) {
      metrics(req, res).catch((err: unknown) => {
        opts.log.error({ err: err instanceof Error ? err.message : String(err) }, 'metrics: internal error');
        if (!res.headersSent) send(req, res, 500, 'text/plain; charset=utf-8', 'internal error\n');
        else res.destroy();
      });
      return;
    }
    if (route === '/-/healthy') return send(req, res, 200, 'text/plain; charset=utf-8', 'Healthy\n');
    if (route === '/-/ready') return send(req, res, 200, 'text/plain; charset=utf-8', 'Ready\n');
    send(
      req,
      res,
      200,
      'text/html; charset=utf-8',
      landingPage({ version: opts.version, metricsPath: opts.telemetryPath }),
    );
  };
}

function send(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  status: number,
  contentType: string,
  body: string,
  compress = false,
): void {
  res.statusCode = status;
  res.setHeader('Content-Type', contentType);
  if (!compress) {
    const buf = Buffer.from(body);
    res.setHeader('Content-Length', buf.length);
    res.end(req.method === 'HEAD' ? undefined : buf);
    return;
  }
  gzip(body, { level: 1 }).then(
    (z) => {
      res.setHeader('Content-Encoding', 'gzip');
      res.setHeader('Vary', 'Accept-Encoding');
      res.setHeader('Content-Length', z.length);
      res.end(req.method === 'HEAD' ? undefined : z);
    },
    () => res.destroy(),
  );
}
