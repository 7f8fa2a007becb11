// Process and measurement helpers for the benchmark: child processes that are always killed, /proc
// readings (RSS, peak RSS, CPU ticks), HTTP scrapes with timing, a raw VICI reader, medians.

import { type ChildProcess, execFileSync, fork, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodePacket, PacketType } from '../../src/vici/index.js';
import type { SyntheticStats } from '../synthetic-charon.js';

/** The repository, and the built synthetic daemon and exporter CLI the benchmarks run. */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const SERVER = path.join(ROOT, 'dist/bench/synthetic-charon.js');
export const CLI = path.join(ROOT, 'dist/src/cli/main.js');

// ---- children ----

const children = new Set<ChildProcess>();

/** Kill one child: SIGTERM, then SIGKILL after graceMs. Resolves when it has exited. */
export function kill(p: ChildProcess, graceMs = 5000): Promise<void> {
  return new Promise((resolve) => {
    if (p.exitCode !== null || p.signalCode !== null) {
      children.delete(p);
      return resolve();
    }
    const t = setTimeout(() => p.kill('SIGKILL'), graceMs);
    p.once('exit', () => {
      clearTimeout(t);
      children.delete(p);
      resolve();
    });
    p.kill('SIGTERM');
  });
}

/** Kill every child still running, synchronously (for exit paths). */
export function killAllNow(): void {
  for (const p of children) {
    if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  }
  children.clear();
}

process.once('exit', killAllNow);
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    killAllNow();
    process.exit(130);
  });
}

export function track<T extends ChildProcess>(p: T): T {
  children.add(p);
  p.once('exit', () => children.delete(p));
  return p;
}

// ---- /proc ----

let clkTck = 0;
function ticksPerSecond(): number {
  if (clkTck === 0) {
    try {
      clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clkTck = 100;
    }
  }
  return clkTck;
}

/** VmRSS and VmHWM (peak RSS) of a process, bytes. */
export function memory(pid: number): { rss: number; hwm: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) =>
    Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
  return { rss: kb('VmRSS') * 1024, hwm: kb('VmHWM') * 1024 };
}

/** CPU time (user + system) a process has used, ms (resolution: one clock tick, usually 10 ms). */
export function cpuMs(pid: number): number {
  // Nanoseconds on a CPU, summed over the process's threads (schedstat), where the kernel has it:
  // /proc/PID/stat counts in 10 ms ticks, a tenth of a scrape at N = 1,000.
  try {
    let ns = 0;
    for (const t of fs.readdirSync(`/proc/${pid}/task`))
      ns += Number(fs.readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ')[0]);
    if (Number.isFinite(ns) && ns > 0) return ns / 1e6;
  } catch {
    // no schedstat (or a thread ended while read): ticks below
  }
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may contain spaces: count fields after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return ((utime + stime) * 1000) / ticksPerSecond();
}

// ---- timing ----

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Reject after ms with a message. */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

// ---- runs ----

/** Run a command with stdout to /dev/null; resolves with its exit code and wall time. */
export function runTimed(
  cmd: string,
  args: string[],
  timeoutMs: number,
): Promise<{ code: number | null; ms: number; stderr: string }> {
  return new Promise((resolve, reject) => {
    const devnull = fs.openSync('/dev/null', 'w');
    const t0 = performance.now();
    const p = track(spawn(cmd, args, { stdio: ['ignore', devnull, 'pipe'] }));
    fs.closeSync(devnull);
    let stderr = '';
    p.stderr?.setEncoding('utf8').on('data', (d: string) => {
      if (stderr.length < 4096) stderr += d;
    });
    const killer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.once('error', reject);
    p.once('close', (code) => {
      clearTimeout(killer);
      resolve({ code, ms: performance.now() - t0, stderr });
    });
  });
}

export interface Scrape {
  status: number;
  ms: number;
  bytes: number;
  body: Buffer;
}

/**
 * GET a URL; times from sending the request to the last byte of the body. With keepBody false the body
 * is only counted (ten concurrent 460 MB responses must not pile up in the benchmark's own memory).
 */
export function scrape(
  url: string,
  headers: Record<string, string>,
  timeoutMs: number,
  keepBody = true,
): Promise<Scrape> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = http.get(url, { headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      let bytes = 0;
      res.on('data', (c: Buffer) => {
        bytes += c.length;
        if (keepBody) chunks.push(c);
      });
      res.on('end', () => {
        clearTimeout(timer);
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, ms: performance.now() - t0, bytes, body });
      });
      res.on('error', reject);
    });
    const timer = setTimeout(
      () => req.destroy(new Error(`GET ${url}: no answer within ${timeoutMs} ms`)),
      timeoutMs,
    );
    req.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

/** Samples in a text exposition: lines that are neither comments nor empty. */
export function countSeries(text: string): number {
  let n = 0;
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    if (end > start && text.charCodeAt(start) !== 35) n++;
    start = end + 1;
  }
  return n;
}

/**
 * The floor for any VICI client: register for list-sa, run list-sas and read the frames without decoding
 * them (only the length headers are looked at), until the final CMD_RESPONSE. Resolves with the wall
 * time, the number of list-sa events and the bytes read.
 */
export function rawListSas(
  path: string,
  timeoutMs: number,
): Promise<{ ms: number; events: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    const sock = net.createConnection({ path });
    const timer = setTimeout(
      () => sock.destroy(new Error(`raw list-sas: no end within ${timeoutMs} ms`)),
      timeoutMs,
    );
    let t0 = 0;
    let stage = 0; // 0: waiting for EVENT_CONFIRM, 1: streaming
    let events = 0;
    let bytes = 0;
    let pending: Buffer = Buffer.alloc(0);
    let need = -1; // bytes left to skip of the current frame's data, or -1 when reading a header
    let header: number[] = [];
    sock.on('connect', () => sock.write(encodePacket(PacketType.EVENT_REGISTER, 'list-sa')));
    sock.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      let pos = 0;
      while (pos < pending.length) {
        if (need < 0) {
          while (header.length < 5 && pos < pending.length) header.push(pending[pos++] as number);
          if (header.length < 5) break;
          const len =
            (((header[0] as number) << 24) |
              ((header[1] as number) << 16) |
              ((header[2] as number) << 8) |
              (header[3] as number)) >>>
            0;
          const type = header[4] as number;
          header = [];
          need = len - 1;
          if (type === PacketType.EVENT_CONFIRM && stage === 0) {
            stage = 1;
            t0 = performance.now();
            sock.write(encodePacket(PacketType.CMD_REQUEST, 'list-sas'));
          } else if (type === PacketType.EVENT) {
            events++;
          } else if (type === PacketType.CMD_RESPONSE && stage === 1) {
            clearTimeout(timer);
            const ms = performance.now() - t0;
            sock.destroy();
            resolve({ ms, events, bytes });
            return;
          }
        }
        const skip = Math.min(need, pending.length - pos);
        pos += skip;
        need -= skip;
        if (need === 0) need = -1;
      }
      pending = pending.subarray(pos);
    });
    sock.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

// ---- the synthetic daemon as a child process ----

/** What the forked synthetic daemon reports over IPC (its own stats, see synthetic-charon.ts). */
export type ServerStats = Pick<SyntheticStats, 'listings' | 'prepareMs' | 'requests'>;

export interface ServerChild {
  process: ChildProcess;
  address: string;
  stats(): Promise<ServerStats>;
  resetStats(): Promise<void>;
  stop(): Promise<void>;
}

/** Fork dist/bench/synthetic-charon.js with an IPC channel; resolves once it listens. */
export function startServerChild(script: string, args: string[], timeoutMs: number): Promise<ServerChild> {
  const p = track(fork(script, args, { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] }));
  let stderr = '';
  p.stderr?.setEncoding('utf8').on('data', (d: string) => {
    if (stderr.length < 8192) stderr += d;
  });
  const ask = <T>(type: string, answer: string): Promise<T> =>
    within(
      new Promise<T>((resolve) => {
        const on = (m: { type?: string } & T) => {
          if (m.type !== answer) return;
          p.off('message', on);
          resolve(m);
        };
        p.on('message', on);
        p.send({ type });
      }),
      30_000,
      `synthetic charon: ${type}`,
    );
  return within(
    new Promise<ServerChild>((resolve, reject) => {
      p.once('exit', (code) => reject(new Error(`synthetic charon exited (${code}): ${stderr.trim()}`)));
      p.on('message', (m: { type?: string; address?: string }) => {
        if (m.type !== 'ready') return;
        resolve({
          process: p,
          address: m.address as string,
          stats: () => ask<{ stats: ServerStats }>('stats', 'stats').then((x) => x.stats),
          resetStats: () => ask('reset-stats', 'reset').then(() => undefined),
          stop: () => kill(p),
        });
      });
    }),
    timeoutMs,
    'synthetic charon start',
  ).catch((err: unknown) => {
    p.kill('SIGKILL');
    throw err;
  });
}

/** A script's shebang (`#!/usr/bin/env -S [NAME=VALUE]... node FLAGS`): benchmarks run the bin as users do. */
function shebang(script: string): { env: Record<string, string>; flags: string[] } {
  const first = fs.readFileSync(script, 'utf8').split('\n', 1)[0] ?? '';
  const m = /^#!\S*env -S (.*)$/.exec(first);
  const words = m ? (m[1] as string).split(' ').filter((x) => x !== '') : [];
  const env: Record<string, string> = {};
  let i = 0;
  for (; i < words.length && /^[A-Za-z_][A-Za-z0-9_]*=/.test(words[i] as string); i++) {
    const w = words[i] as string;
    env[w.slice(0, w.indexOf('='))] = w.slice(w.indexOf('=') + 1);
  }
  return words[i] === 'node' ? { env, flags: words.slice(i + 1) } : { env: {}, flags: [] };
}

/** The node flags a script's shebang gives. */
export function binNodeFlags(script: string): string[] {
  return shebang(script).flags;
}

/** What the bin's shebang sets in the environment, as `, env NAME=VALUE ...` ('' for nothing). */
export function binEnvText(script: string): string {
  const env = Object.entries(shebang(script).env);
  return env.length === 0 ? '' : `, env ${env.map(([k, v]) => `${k}=${v}`).join(' ')}`;
}

/** The environment a script's shebang sets (added to this process's). */
export function binEnv(script: string): NodeJS.ProcessEnv {
  return { ...process.env, ...shebang(script).env };
}
