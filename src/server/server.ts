// The HTTP side: /metrics (or --web.telemetry-path), /probe?target=NAME for the targets of
// --config.file, the landing page, health and readiness, 404/405 where they belong, the web config's
// headers and admission (basic auth, client certificates, rate limit). It never sends a stack trace.

import type http from 'node:http';
import type { Logger } from '../log.js';
import { CONTENT_TYPES, Exposition, type Format } from '../metrics/exposition.js';
import { F } from '../metrics/families.js';
import type { SelfMetrics } from '../metrics/self.js';
import type { Gate } from './auth.js';
import { gzipPieces, piecesOf } from './gzip.js';
import { landingPage } from './landing.js';
import { acceptsGzip, negotiateFormat } from './negotiate.js';
import { SharedText, writeShared } from './shared-text.js';
import type { ScrapeOutcome, Target } from './target.js';

const TEXT = 'text/plain; charset=utf-8';

/** What a reload of the web config replaces. */
export interface WebState {
  gate: Gate | undefined;
  headers: Record<string, string>;
}

export interface ServerOptions {
  /** The target behind the telemetry path; undefined when only /probe targets are configured. */
  target: Target | undefined;
  /** Named targets for /probe (read on every request, so a reload can replace them). */
  targets?: () => ReadonlyMap<string, Target>;
  web?: () => WebState;
  telemetryPath: string;
  selfMetrics: SelfMetrics;
  version: string;
  log: Logger;
  /** Offset subtracted from Prometheus' scrape timeout header, in ms. */
  timeoutOffsetMs?: number;
}

export function buildInfo(version: string): Exposition {
  const e = new Exposition();
  e.write(F.buildInfo, 1, null, version, process.version);
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
  const targets = opts.targets ?? (() => new Map<string, Target>());
  const web = opts.web ?? (() => ({ gate: undefined, headers: {} }));
  const routes = new Set([opts.telemetryPath, '/', '/-/healthy', '/-/ready', '/probe']);

  /** The response body: made once per scrape outcome, format and compression, shared by joined scrapes. */
  async function body(
    outcome: ScrapeOutcome | undefined,
    format: Format,
    gz: boolean,
    withSelf: boolean,
  ): Promise<Buffer[] | SharedText> {
    const tail = async () => {
      const parts: Buffer[] = [];
      if (withSelf) parts.push(...info.render(format), Buffer.from(await opts.selfMetrics.text(format)));
      if (format === 'openmetrics') parts.push(EOF);
      return parts;
    };
    if (outcome === undefined) {
      const t = await tail();
      return gz ? gzipPieces(piecesOf(t)) : t;
    }
    const e = outcome.exposition;
    return outcome.response(`${format}|${gz}|${withSelf}`, async () => {
      const t = await tail();
      // Plain text is made as it is written (shared by the clients that joined); gzip as it is deflated.
      return gz
        ? gzipPieces(e.reader(format), t)
        : new SharedText(() => e.reader(format), e.textLength(format), t);
    });
  }

  async function metrics(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const format: Format = negotiateFormat(req.headers.accept);
    const gz = acceptsGzip(req.headers['accept-encoding']);
    const outcome = opts.target ? await opts.target.scrape(headerTimeoutMs(req, offset)) : undefined;
    if (outcome) res.once('finish', outcome.hold());
    sendChunks(req, res, CONTENT_TYPES[format], await body(outcome, format, gz, true), gz);
  }

  async function probe(req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> {
    const names = url.searchParams.getAll('target');
    if (names.length !== 1 || names[0] === '')
      return send(req, res, 400, TEXT, 'the target parameter must be given once\n');
    const name = names[0] as string;
    const target = targets().get(name);
    if (target === undefined) {
      // Only names from --config.file are scraped: an address in the query string is refused.
      return send(
        req,
        res,
        400,
        TEXT,
        `unknown target ${JSON.stringify(name.slice(0, 100))}: probe only targets named in --config.file\n`,
      );
    }
    const format = negotiateFormat(req.headers.accept);
    const gz = acceptsGzip(req.headers['accept-encoding']);
    const outcome = await target.scrape(headerTimeoutMs(req, offset));
    res.once('finish', outcome.hold());
    sendChunks(req, res, CONTENT_TYPES[format], await body(outcome, format, gz, false), gz);
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const state = web();
    for (const [k, v] of Object.entries(state.headers)) res.setHeader(k, v);
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
    } catch {
      return send(req, res, 400, TEXT, 'bad request\n');
    }
    if (state.gate) {
      const a = await state.gate.admit(req);
      if (!a.ok) {
        if (a.status === 401)
          res.setHeader('WWW-Authenticate', 'Basic realm="strongSwan Exporter", charset="UTF-8"');
        opts.log.debug(
          { path: url.pathname, reason: a.reason, remote: req.socket.remoteAddress },
          'http: request refused',
        );
        return send(
          req,
          res,
          a.status,
          TEXT,
          a.status === 429 ? 'too many requests\n' : a.status === 403 ? 'forbidden\n' : 'unauthorized\n',
        );
      }
    }
    const route = url.pathname;
    if (!routes.has(route) || (route === '/probe' && opts.targets === undefined))
      return send(req, res, 404, TEXT, '404 page not found\n');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return send(req, res, 405, TEXT, 'method not allowed\n');
    }
    if (route === opts.telemetryPath) return metrics(req, res);
    if (route === '/probe') return probe(req, res, url);
    if (route === '/-/healthy') return send(req, res, 200, TEXT, 'Healthy\n');
    if (route === '/-/ready') return send(req, res, 200, TEXT, 'Ready\n');
    send(
      req,
      res,
      200,
      'text/html; charset=utf-8',
      landingPage({ version: opts.version, metricsPath: opts.telemetryPath, targets: [...targets().keys()] }),
    );
  }

  return (req, res) => {
    handle(req, res).catch((err: unknown) => {
      opts.log.error({ err: err instanceof Error ? err.message : String(err) }, 'http: internal error');
      if (!res.headersSent) send(req, res, 500, TEXT, 'internal error\n');
      else res.destroy();
    });
  };
}

const EOF = Buffer.from('# EOF\n');

/** Write a 200 response made of chunks, without copying them into one buffer. */
function sendChunks(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  contentType: string,
  chunks: Buffer[] | SharedText,
  gz: boolean,
): void {
  res.statusCode = 200;
  res.setHeader('Content-Type', contentType);
  if (gz) {
    res.setHeader('Content-Encoding', 'gzip');
    res.setHeader('Vary', 'Accept-Encoding');
  }
  let length = 0;
  if (chunks instanceof SharedText) length = chunks.length;
  else for (const c of chunks) length += c.length;
  res.setHeader('Content-Length', length);
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  if (chunks instanceof SharedText) {
    writeShared(res, chunks);
    return;
  }
  res.cork();
  for (const c of chunks) res.write(c);
  res.uncork();
  res.end();
}

/** A small answer (errors, health, the landing page): never compressed. */
function send(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  status: number,
  contentType: string,
  body: string,
): void {
  res.statusCode = status;
  res.setHeader('Content-Type', contentType);
  const buf = Buffer.from(body);
  res.setHeader('Content-Length', buf.length);
  res.end(req.method === 'HEAD' ? undefined : buf);
}
