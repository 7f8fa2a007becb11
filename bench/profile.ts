// Where a scrape's time goes, for the owners of src/: `node dist/bench/profile.js` (after npm run build).
//
// Part A, in this process, against a synthetic charon child (PROFILE_N IKE SAs, default 10,000, C = 2):
// each step of a scrape on its own, median of PROFILE_ROUNDS (default 5) after a warm-up: reading the
// listing without decoding, decoding list-sas and list-conns, the collectors (all defaults together,
// then each alone), rendering the exposition text, Buffer.from, gzip level 1; plus heap growth.
//
// Part B: the real exporter CLI under `node --cpu-prof`, PROFILE_ROUNDS plain and gzip scrapes after a
// warm-up; the profile's self time by source file (native frames are charged to the nearest frame of
// ours or of a package) and the top functions. gzip runs on libuv's thread pool, outside the main
// thread profile: part A times it.
//
// Prints markdown and writes bench/results/profile-latest.md.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { CONNS_SHAPE, type Collector } from '../src/collectors/collector.js';
import { COLLECTORS } from '../src/collectors/registry.js';
import { Target } from '../src/server/target.js';
import { ViciClient } from '../src/vici/index.js';
import {
  binEnv,
  binNodeFlags,
  CLI,
  cpuMs,
  freePort,
  kill,
  killAllNow,
  median,
  memory,
  ROOT,
  rawListSas,
  SERVER,
  scrape,
  sleep,
  startServerChild,
  track,
} from './lib/proc.js';

const N = Number(process.env.PROFILE_N ?? 10_000);
const C = Number(process.env.PROFILE_CHILDREN ?? 2);
const ROUNDS = Number(process.env.PROFILE_ROUNDS ?? 5);
const OUT = process.env.BENCH_OUT ?? path.join(ROOT, 'bench/results');

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const log = (s: string) => process.stderr.write(`profile: ${s}\n`);
const f0 = (x: number) => (Number.isFinite(x) ? x.toFixed(0) : '–');
const MB = (b: number) => (b / 1024 / 1024).toFixed(1);

async function timed<T>(fn: () => Promise<T> | T): Promise<{ ms: number; value: T }> {
  const t0 = performance.now();
  const value = await fn();
  return { ms: performance.now() - t0, value };
}

async function medianOf(fn: () => Promise<unknown> | unknown): Promise<number> {
  await fn();
  const xs: number[] = [];
  for (let i = 0; i < ROUNDS; i++) xs.push((await timed(fn)).ms);
  return median(xs);
}

interface Step {
  step: string;
  ms: number;
  note: string;
}

async function partA(address: string, sock: string): Promise<string[]> {
  const defaults = COLLECTORS.filter((c) => c.defaultEnabled);
  const steps: Step[] = [];
  const add = (step: string, ms: number, note = '') => {
    steps.push({ step, ms, note });
    log(`${step}: ${f0(ms)} ms ${note}`);
  };

  add('read list-sas, frames only (VICI floor)', await medianOf(() => rawListSas(sock, 120_000)));
  const client = new ViciClient({ address, timeoutMs: 120_000 });
  try {
    let events = 0;
    add(
      'list-sas: receive + decode (text), no collector',
      await medianOf(() =>
        client.stream('list-sas', { noblock: 'yes' }, () => events++, { decode: { text: true } }),
      ),
    );
    add(
      'list-conns: receive + decode (text), whole tree',
      await medianOf(() => client.list('list-conns', undefined, { decode: { text: true } })),
    );
    add(
      'list-conns: as a scrape decodes it (CONNS_SHAPE)',
      await medianOf(() =>
        client.list('list-conns', undefined, { decode: { text: true, select: CONNS_SHAPE } }),
      ),
    );
  } finally {
    client.close();
  }

  const target = new Target({
    name: 'profile',
    address,
    timeoutMs: 120_000,
    collectors: defaults,
    log: quiet,
  });
  try {
    await target.scrape();
    const collect: number[] = [];
    const render: number[] = [];
    const toBuf: number[] = [];
    const gz: number[] = [];
    let size = 0;
    let gzSize = 0;
    let samples = 0;
    let heapGrowth = 0;
    for (let i = 0; i < ROUNDS; i++) {
      (globalThis as { gc?: () => void }).gc?.();
      const heap0 = process.memoryUsage().heapUsed;
      const c = await timed(() => target.scrape());
      // Held and released as the HTTP server does, so that the next scrape reuses its chunks.
      const release = c.value.hold();
      c.value.closeJoins();
      collect.push(c.ms);
      samples = c.value.exposition.samples;
      const r = await timed(() => c.value.exposition.render('prometheus'));
      render.push(r.ms);
      heapGrowth = process.memoryUsage().heapUsed - heap0;
      // The exporter writes the chunks as they are; one copy here only to feed gzipSync.
      const b = await timed(() => Buffer.concat(r.value));
      toBuf.push(b.ms);
      size = b.value.length;
      const g = await timed(() => zlib.gzipSync(b.value, { level: 1 }));
      gz.push(g.ms);
      gzSize = g.value.length;
      release();
    }
    add(
      `scrape: all ${defaults.length} default collectors (VICI + collect)`,
      median(collect),
      `${samples} samples`,
    );
    add('exposition.render(prometheus): byte chunks', median(render), `${MB(size)} MB`);
    add('Buffer.concat(chunks) (only for gzipSync here)', median(toBuf));
    add('gzip level 1 (zlib, off the main thread in the exporter)', median(gz), `${MB(gzSize)} MB`);
    add('heap growth of one scrape + text, before GC', Number.NaN, `${MB(heapGrowth)} MB`);
  } finally {
    await target.close();
  }

  const per: Step[] = [];
  for (const c of defaults) {
    const t = new Target({
      name: c.name,
      address,
      timeoutMs: 120_000,
      collectors: [c as Collector],
      log: quiet,
    });
    try {
      let samples = 0;
      const ms = await medianOf(async () => {
        const o = await t.scrape();
        samples = o.exposition.samples;
        o.exposition.render('prometheus');
      });
      per.push({ step: c.name, ms, note: `${samples} samples` });
      log(`collector ${c.name}: ${f0(ms)} ms`);
    } finally {
      await t.close();
    }
  }

  return [
    `## A. Steps of one scrape, in process (N = ${N.toLocaleString('en-US')}, C = ${C}; median of ${ROUNDS})`,
    '',
    '| step | ms | |',
    '|---|---:|---|',
    ...steps.map((s) => `| ${s.step} | ${f0(s.ms)} | ${s.note} |`),
    '',
    'Each default collector alone (its own VICI queries, collect, text):',
    '',
    '| collector | ms | |',
    '|---|---:|---|',
    ...per.map((s) => `| ${s.step} | ${f0(s.ms)} | ${s.note} |`),
    '',
  ];
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Which bucket a frame belongs to: a file of ours, a package, or undefined (native, node internals). */
function bucketOf(url: string): string | undefined {
  const ours = /\/dist\/(src\/.*)\.js$/.exec(url);
  if (ours) return ours[1];
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (pkg) return `package ${pkg[1]}`;
  return undefined;
}

function analyse(profile: CpuProfile): string[] {
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const n of profile.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  const self = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i] as number;
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
  }
  const buckets = new Map<string, number>();
  const fns = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (const [id, ms] of self) {
    const n = byId.get(id) as ProfileNode;
    const name = n.callFrame.functionName || '(anonymous)';
    if (name === '(idle)') {
      idle += ms;
      continue;
    }
    total += ms;
    let bucket: string | undefined;
    if (name === '(garbage collector)') bucket = 'GC';
    else if (name === '(program)') bucket = '(program: native, compiler)';
    for (let cur: number | undefined = id; bucket === undefined && cur !== undefined; cur = parent.get(cur)) {
      bucket = bucketOf((byId.get(cur) as ProfileNode).callFrame.url);
    }
    bucket ??= 'node internals (net, http, streams)';
    buckets.set(bucket, (buckets.get(bucket) ?? 0) + ms);
    const file = bucketOf(n.callFrame.url) ?? (n.callFrame.url ? path.basename(n.callFrame.url) : 'native');
    const key = `${name} (${file}${n.callFrame.url ? `:${n.callFrame.lineNumber + 1}` : ''})`;
    fns.set(key, (fns.get(key) ?? 0) + ms);
  }
  const pct = (ms: number) => ((100 * ms) / total).toFixed(1);
  const top = (m: Map<string, number>, k: number) => [...m].sort((a, b) => b[1] - a[1]).slice(0, k);
  return [
    `Main thread busy ${f0(total)} ms (idle ${f0(idle)} ms) over the profile.`,
    '',
    '| where (self time; native frames charged to the nearest JS file) | ms | % |',
    '|---|---:|---:|',
    ...top(buckets, 25).map(([k, ms]) => `| ${k} | ${f0(ms)} | ${pct(ms)} |`),
    '',
    '| top functions by self time | ms | % |',
    '|---|---:|---:|',
    ...top(fns, 30).map(([k, ms]) => `| \`${k.replace(/\|/g, '\\|')}\` | ${f0(ms)} | ${pct(ms)} |`),
    '',
  ];
}

async function partB(address: string, dir: string): Promise<string[]> {
  const profDir = path.join(dir, 'cpuprof');
  const port = await freePort();
  const logFile = path.join(dir, 'exporter-prof.log');
  const fd = fs.openSync(logFile, 'w');
  const p = track(
    spawn(
      process.execPath,
      [
        '--cpu-prof',
        '--cpu-prof-dir',
        profDir,
        '--cpu-prof-interval',
        '500',
        ...binNodeFlags(CLI),
        CLI,
        '--vici.address',
        address,
        '--web.listen-address',
        `127.0.0.1:${port}`,
        '--vici.timeout',
        '120s',
      ],
      { stdio: ['ignore', fd, fd], env: binEnv(CLI) },
    ),
  );
  fs.closeSync(fd);
  const url = `http://127.0.0.1:${port}/metrics`;
  const lines: string[] = [];
  try {
    for (let i = 0; ; i++) {
      try {
        if ((await scrape(`http://127.0.0.1:${port}/-/healthy`, {}, 2000)).status === 200) break;
      } catch {
        // not yet
      }
      if (i > 300) throw new Error('exporter not healthy');
      await sleep(100);
    }
    await scrape(url, {}, 300_000);
    const cpu0 = cpuMs(p.pid as number);
    const wall: number[] = [];
    const wallGz: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      wall.push((await scrape(url, {}, 300_000)).ms);
      wallGz.push((await scrape(url, { 'Accept-Encoding': 'gzip' }, 300_000)).ms);
    }
    const cpu = cpuMs(p.pid as number) - cpu0;
    const peak = memory(p.pid as number).hwm;
    lines.push(
      `## B. The exporter CLI under --cpu-prof (N = ${N.toLocaleString('en-US')}, ${ROUNDS} plain + ${ROUNDS} gzip scrapes after one warm-up)`,
      '',
      `Scrape wall time (median, profiler on): plain ${f0(median(wall))} ms, gzip ${f0(median(wallGz))} ms; process CPU for the ${2 * ROUNDS} scrapes ${f0(cpu)} ms (all threads); peak RSS ${MB(peak)} MB.`,
      '',
    );
  } finally {
    await kill(p, 20_000);
  }
  const files = fs.existsSync(profDir)
    ? fs.readdirSync(profDir).filter((f) => f.endsWith('.cpuprofile'))
    : [];
  if (files.length === 0) return [...lines, 'No CPU profile was written.', ''];
  const profile = JSON.parse(fs.readFileSync(path.join(profDir, files[0] as string), 'utf8')) as CpuProfile;
  return [...lines, ...analyse(profile)];
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ssw-profile-'));
  const sock = path.join(dir, 'charon.vici');
  const server = await startServerChild(
    SERVER,
    ['--ike-sas', String(N), '--children', String(C), '--socket', sock],
    600_000,
  );
  const out: string[] = [
    `# Profile of one scrape (${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC)`,
    '',
    `Machine: ${os.cpus().length} x ${os.cpus()[0]?.model ?? '?'}, Node ${process.version}. Synthetic charon: ${N.toLocaleString('en-US')} IKE SAs x ${C} CHILD SAs, one connection per IKE SA. Default collectors: ${COLLECTORS.filter(
      (c) => c.defaultEnabled,
    )
      .map((c) => c.name)
      .join(', ')}.`,
    '',
  ];
  try {
    out.push(...(await partA(server.address, sock)));
    out.push(...(await partB(server.address, dir)));
  } finally {
    await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const md = out.join('\n');
  process.stdout.write(`${md}\n`);
  fs.mkdirSync(OUT, { recursive: true });
  fs.writeFileSync(path.join(OUT, 'profile-latest.md'), md);
}

main().catch((err: unknown) => {
  log(`failed: ${err instanceof Error ? err.message : String(err)}`);
  killAllNow();
  process.exit(1);
});
