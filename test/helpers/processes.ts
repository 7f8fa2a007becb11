// Child processes the e2e tests start (the exporter, Prometheus): free loopback ports, readiness
// waits, captured logs, and a stop that always kills.
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CLI } from './cli.js';

export async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export class Child {
  output = '';
  constructor(readonly proc: ChildProcess) {
    proc.stdout?.setEncoding('utf8').on('data', (d: string) => {
      this.output += d;
    });
    proc.stderr?.setEncoding('utf8').on('data', (d: string) => {
      this.output += d;
    });
  }
  lines(): string[] {
    return this.output.split('\n').filter((l) => l !== '');
  }
  async stop(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    const exited = new Promise<void>((r) => this.proc.once('exit', () => r()));
    this.proc.kill('SIGTERM');
    const t = setTimeout(() => this.proc.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(t);
  }
}

export async function waitFor(what: string, check: () => Promise<boolean>, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // not yet
    }
    if (Date.now() > end) throw new Error(`${what}: not ready within ${ms} ms`);
    await sleep(100);
  }
}

/**
 * GET on a connection of its own. A test that blocks its event loop (a synchronous lab command of
 * several seconds) must not reuse a kept-alive connection: the server may have closed it meanwhile
 * (its keep-alive timeout is 5 s), unseen by the blocked client, and the request then fails.
 */
export function getFresh(url: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent: false }, (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (d: string) => {
          text += d;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

export interface Exporter extends Child {
  url: string;
}

/** Start the built exporter on a free loopback port and wait until it answers. */
export async function startExporter(args: string[]): Promise<Child & { url: string }> {
  const port = await freePort();
  const child = new Child(
    spawn(process.execPath, [CLI, '--web.listen-address', `127.0.0.1:${port}`, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  const url = `http://127.0.0.1:${port}`;
  await waitFor('exporter', async () => (await fetch(`${url}/-/healthy`)).ok);
  return Object.assign(child, { url });
}

/** Start Debian's Prometheus scraping `targets` every second; returns its URL and a stop(). */
export async function startPrometheus(
  targets: string[],
  extraScrapeConfig = '',
): Promise<Child & { url: string; dir: string }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'e2e-prom-'));
  const port = await freePort();
  fs.writeFileSync(
    path.join(dir, 'prometheus.yml'),
    `global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: strongswan
    static_configs:
      - targets: [${targets.map((t) => `'${t}'`).join(', ')}]
${extraScrapeConfig}`,
  );
  const child = new Child(
    spawn(
      'prometheus',
      [
        `--config.file=${path.join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${path.join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir },
    ),
  );
  const url = `http://127.0.0.1:${port}`;
  await waitFor('prometheus', async () => (await fetch(`${url}/-/ready`)).ok, 30_000);
  const stop = child.stop.bind(child);
  return Object.assign(child, {
    url,
    dir,
    stop: async () => {
      await stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  });
}

export interface PromVector {
  metric: Record<string, string>;
  value: [number, string];
}

export async function promQuery(url: string, query: string): Promise<PromVector[]> {
  const r = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(query)}`);
  const body = (await r.json()) as { status: string; data?: { result: PromVector[] }; error?: string };
  if (body.status !== 'success') throw new Error(`${query}: ${body.error}`);
  return body.data?.result ?? [];
}
