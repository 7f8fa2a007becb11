// `npm run bench`: the exporter against strongSwan's own client on the same synthetic daemon.
// For each N (IKE SAs, C CHILD SAs each), against one synthetic charon per N:
//   - swanctl --list-sas --raw --uri ... > /dev/null, wall time (the reference);
//   - the VICI floor: the same listing read by a client that only walks the frame headers;
//   - a full /metrics scrape of the real exporter CLI (default collectors), plain and with
//     Accept-Encoding: gzip: wall time, response size, series, CPU time of the exporter process;
//   - 10 concurrent scrapes against one;
//   - the exporter's idle RSS (after start, before any scrape) and peak RSS (VmHWM at the end);
//   - the synthetic daemon's own render and send times.
// Several rounds after a warm-up; medians. Prints a markdown table and writes it to
// bench/results/latest.md (not committed; copy a run worth keeping to bench/results/<date>.md).
//
// Settings (environment): BENCH_N=1000,10000,50000  BENCH_CHILDREN=2  BENCH_CONNS=<per N, default N>
// BENCH_ROUNDS=5  BENCH_WARMUP=1  BENCH_CONCURRENCY=10  BENCH_TIMEOUT_S=3600  BENCH_SWANCTL=/usr/sbin/swanctl
// BENCH_EXPORTER_ARGS="--extra --flags"  BENCH_NODE_ARGS="--max-semi-space-size=..."  BENCH_OUT=<dir>
// BENCH_CHARON_ARGS="--road-warrior-every 1" (options of bench/synthetic-charon.ts)
// BENCH_COMMIT=<label for the results when running from a copy of dist/>
// Everything runs on loopback and unix sockets; every child process is killed on the way out.

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  binEnv,
  binEnvText,
  binNodeFlags,
  CLI,
  countSeries,
  cpuMs,
  freePort,
  kill,
  killAllNow,
  median,
  memory,
  ROOT,
  rawListSas,
  runTimed,
  SERVER,
  type ServerChild,
  scrape,
  sleep,
  startServerChild,
  track,
  within,
} from './lib/proc.js';

const env = process.env;

const intList = (v: string | undefined, def: number[]) =>
  v === undefined || v.trim() === '' ? def : v.split(',').map((s) => Number(s.trim()));
const SETTINGS = {
  ns: intList(env.BENCH_N, [1000, 10_000, 50_000]),
  children: Number(env.BENCH_CHILDREN ?? 2),
  conns: env.BENCH_CONNS === undefined || env.BENCH_CONNS === '' ? undefined : Number(env.BENCH_CONNS),
  rounds: Number(env.BENCH_ROUNDS ?? 5),
  warmup: Number(env.BENCH_WARMUP ?? 1),
  concurrency: Number(env.BENCH_CONCURRENCY ?? 10),
  timeoutS: Number(env.BENCH_TIMEOUT_S ?? 3600),
  swanctl:
    env.BENCH_SWANCTL ?? ['/usr/sbin/swanctl', '/usr/bin/swanctl'].find((p) => fs.existsSync(p)) ?? 'swanctl',
  exporterArgs: (env.BENCH_EXPORTER_ARGS ?? '').split(' ').filter((s) => s !== ''),
  charonArgs: (env.BENCH_CHARON_ARGS ?? '').split(' ').filter((s) => s !== ''),
  /** node flags for the exporter: the bin's own (from its shebang), then BENCH_NODE_ARGS. */
  nodeArgs: [...binNodeFlags(CLI), ...(env.BENCH_NODE_ARGS ?? '').split(' ').filter((s) => s !== '')],
  out: env.BENCH_OUT ?? path.join(ROOT, 'bench/results'),
  /**
   * What times the scrapes: curl (a C client, like swanctl a process of its own; the default where it
   * is installed) or Node's own http client (slower to take 90 MB in, which shows in the times).
   */
  client:
    env.BENCH_CLIENT === 'node' || (env.BENCH_CLIENT === undefined && !fs.existsSync('/usr/bin/curl'))
      ? ('node' as const)
      : ('curl' as const),
};

const log = (s: string) => process.stderr.write(`bench: ${s}\n`);

export interface Row {
  n: number;
  children: number;
  conns: number;
  listingBytes: number;
  swanctlMs: number;
  floorMs: number;
  plainMs: number;
  gzipMs: number;
  plainBytes: number;
  gzipBytes: number;
  series: number;
  cpuPlainMs: number;
  cpuGzipMs: number;
  idleRss: number;
  peakRss: number;
  concurrentMs: number;
  /** Exporter CPU during one concurrent round (user + system). */
  cpuConcurrentMs: number;
  serverBuildMs: number;
  serverSendSwanctlMs: number;
  serverSendExporterMs: number;
  collectors: string;
  /** What failed (the row then has NaN where it has no figure). */
  errors: string[];
}

interface Exporter {
  process: ChildProcess;
  pid: number;
  url: string;
  logFile: string;
}

async function startExporter(address: string, dir: string): Promise<Exporter> {
  const port = await freePort();
  const logFile = path.join(dir, 'exporter.log');
  const fd = fs.openSync(logFile, 'w');
  const p = track(
    spawn(
      process.execPath,
      [
        ...SETTINGS.nodeArgs,
        CLI,
        '--vici.address',
        address,
        '--web.listen-address',
        `127.0.0.1:${port}`,
        '--vici.timeout',
        '60s',
        ...SETTINGS.exporterArgs,
      ],
      { stdio: ['ignore', fd, fd], env: binEnv(CLI) },
    ),
  );
  fs.closeSync(fd);
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (p.exitCode !== null) {
      throw new Error(`exporter exited (${p.exitCode}): ${fs.readFileSync(logFile, 'utf8').slice(-2000)}`);
    }
    try {
      const r = await scrape(`${base}/-/healthy`, {}, 2000);
      if (r.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error('exporter: not healthy within 30 s');
    await sleep(100);
  }
  return { process: p, pid: p.pid as number, url: `${base}/metrics`, logFile };
}

async function benchOne(n: number, dir: string): Promise<Row> {
  const c = SETTINGS.children;
  const sock = path.join(dir, `charon-${n}.vici`);
  const args = ['--ike-sas', String(n), '--children', String(c), '--socket', sock];
  if (SETTINGS.conns !== undefined) args.push('--conns', String(SETTINGS.conns));
  args.push(...SETTINGS.charonArgs);
  log(`N=${n}: starting the synthetic charon`);
  const server: ServerChild = await startServerChild(SERVER, args, 600_000);
  let exporter: Exporter | undefined;
  try {
    const R = SETTINGS.rounds;
    const W = SETTINGS.warmup;
    const perOpMs = 60_000 + n * 2;

    // Each round runs swanctl, a plain scrape and a gzip scrape back to back, so that the ratios are
    // taken under the same conditions (these machines are shared). The exporter is started first, so
    // that its idle RSS is read before any scrape.
    const swanctlArgs = ['--list-sas', '--raw', '--uri', server.address];
    const swanctl: number[] = [];
    const sendSw: number[] = [];
    const sendEx: number[] = [];
    const renders: number[] = [];
    const floor: number[] = [];
    let listingBytes = Number.NaN;
    const errors: string[] = [];
    let idleRss = Number.NaN;
    let peakRss = Number.NaN;
    const plain: number[] = [];
    const gzip: number[] = [];
    const cpuPlain: number[] = [];
    const cpuGzip: number[] = [];
    const concurrent: number[] = [];
    const cpuConcurrent: number[] = [];
    let plainBytes = Number.NaN;
    let gzipBytes = Number.NaN;
    let series = Number.NaN;
    let collectors = '?';
    let phase = 'start';
    /** The daemon's list-sas records since the last call. */
    const listings = async () => {
      const st = await server.stats();
      await server.resetStats();
      const l = st.listings.filter((x) => x.command === 'list-sas');
      for (const x of l) if (!x.cached) renders.push(x.buildMs);
      return l;
    };
    const runSwanctl = async (keep: boolean) => {
      const r = await runTimed(SETTINGS.swanctl, swanctlArgs, perOpMs);
      if (r.code !== 0) throw new Error(`swanctl exited ${r.code}: ${r.stderr}`);
      const l = await listings();
      if (keep) {
        swanctl.push(r.ms);
        for (const x of l) sendSw.push(x.sendMs);
      }
    };
    /** One timed scrape by the configured client; the body is not kept. */
    const timedScrape = async (url: string, gzip: boolean): Promise<number> => {
      if (SETTINGS.client === 'node') {
        const r = await scrape(url, gzip ? { 'Accept-Encoding': 'gzip' } : {}, perOpMs, false);
        if (r.status !== 200) throw new Error(`scrape: HTTP ${r.status}`);
        return r.ms;
      }
      const args = ['-sSf', '-o', '/dev/null', ...(gzip ? ['-H', 'Accept-Encoding: gzip'] : []), url];
      const r = await runTimed('curl', args, perOpMs);
      if (r.code !== 0) throw new Error(`curl exited ${r.code}: ${r.stderr.trim()}`);
      return r.ms;
    };
    /** `n` simultaneous plain scrapes: one curl process with n parallel transfers (or n Node requests). */
    const concurrentScrapes = async (url: string, n: number): Promise<number> => {
      if (SETTINGS.client === 'node') {
        const all = await Promise.all(Array.from({ length: n }, () => timedScrape(url, false)));
        return all.length;
      }
      const each = Array.from({ length: n }, () => ['-o', '/dev/null', url]).flat();
      const args = ['-sSf', '--no-progress-meter', '-Z', '--parallel-immediate', '--parallel-max', String(n)];
      const r = await runTimed('curl', [...args, ...each], perOpMs);
      if (r.code !== 0) throw new Error(`curl exited ${r.code}: ${r.stderr.trim()}`);
      return n;
    };
    const runFloor = async (keep: boolean) => {
      const r = await rawListSas(sock, perOpMs);
      if (r.events !== n) throw new Error(`raw reader: ${r.events} events, expected ${n}`);
      listingBytes = r.bytes;
      await listings();
      if (keep) floor.push(r.ms);
    };
    try {
      exporter = await startExporter(server.address, dir);
      await sleep(1000);
      idleRss = memory(exporter.pid).rss;
      const url = exporter.url;
      const pid = exporter.pid;
      const gz = { 'Accept-Encoding': 'gzip' };
      phase = 'warm-up';
      for (let i = 0; i < W; i++) {
        await runSwanctl(false);
        await runFloor(false);
        await timedScrape(url, false);
        await timedScrape(url, true);
      }
      // Sizes and series, from one untimed scrape of each kind.
      const p = await scrape(url, {}, perOpMs, true);
      if (p.status !== 200) throw new Error(`scrape: HTTP ${p.status}`);
      plainBytes = p.bytes;
      const text = p.body.toString('utf8');
      series = countSeries(text);
      if (!/^strongswan_up 1$/m.test(text)) throw new Error('scrape: strongswan_up is not 1');
      const g = await scrape(url, gz, perOpMs, false);
      if (g.status !== 200) throw new Error(`gzip scrape: HTTP ${g.status}`);
      gzipBytes = g.bytes;
      await listings();
      for (let i = 0; i < R; i++) {
        phase = `round ${i + 1}`;
        await runSwanctl(true);
        await runFloor(true);
        let t = cpuMs(pid);
        plain.push(await timedScrape(url, false));
        cpuPlain.push(cpuMs(pid) - t);
        t = cpuMs(pid);
        gzip.push(await timedScrape(url, true));
        cpuGzip.push(cpuMs(pid) - t);
        for (const x of await listings()) sendEx.push(x.sendMs);
        // In the same round as the single scrapes, so that their ratio compares one hour with itself.
        t = cpuMs(pid);
        const t0 = performance.now();
        const all = await within(concurrentScrapes(url, SETTINGS.concurrency), perOpMs, 'concurrent scrapes');
        if (all !== SETTINGS.concurrency) throw new Error('concurrent scrape failed');
        concurrent.push(performance.now() - t0);
        cpuConcurrent.push(cpuMs(pid) - t);
        await listings();
      }
      log(
        `N=${n}: swanctl ${median(swanctl).toFixed(0)} ms, plain ${median(plain).toFixed(0)} ms, gzip ${median(gzip).toFixed(0)} ms`,
      );
    } catch (err) {
      const said = exporter
        ? fs
            .readFileSync(exporter.logFile, 'utf8')
            .split('\n')
            .filter((l) => /level=(warn|error)/.test(l) && !/running as root/.test(l))
            .slice(-3)
            .join(' / ')
        : '';
      errors.push(
        `${phase}: ${err instanceof Error ? err.message : String(err)}${said ? `; exporter log: ${said}` : ''}`,
      );
      log(`N=${n}: ${errors.at(-1)}`);
    }
    if (exporter !== undefined) {
      try {
        peakRss = memory(exporter.pid).hwm;
      } catch {
        // the exporter is gone
      }
      collectors = /collectors=(\S+)/.exec(fs.readFileSync(exporter.logFile, 'utf8'))?.[1] ?? '?';
      if (exporter.process.exitCode !== null || exporter.process.signalCode !== null) {
        errors.push(
          `exporter died (${exporter.process.exitCode ?? exporter.process.signalCode}): ${fs.readFileSync(exporter.logFile, 'utf8').slice(-600)}`,
        );
      }
    }
    return {
      n,
      children: c,
      conns: SETTINGS.conns ?? n,
      listingBytes,
      swanctlMs: median(swanctl),
      floorMs: median(floor),
      plainMs: median(plain),
      gzipMs: median(gzip),
      plainBytes,
      gzipBytes,
      series,
      cpuPlainMs: median(cpuPlain),
      cpuGzipMs: median(cpuGzip),
      idleRss,
      peakRss,
      concurrentMs: median(concurrent),
      cpuConcurrentMs: median(cpuConcurrent),
      serverBuildMs: median(renders),
      serverSendSwanctlMs: median(sendSw),
      serverSendExporterMs: median(sendEx),
      collectors: collectors.replace(/^"|"$/g, ''),
      errors,
    };
  } finally {
    if (exporter) await kill(exporter.process);
    await server.stop();
  }
}

/** Sizes and memory in MiB (2^20 bytes), as /proc and most tools count them. */
const MiB = (b: number) => (Number.isFinite(b) ? (b / 1024 / 1024).toFixed(1) : '–');
const ms = (x: number) => (Number.isFinite(x) ? x.toFixed(0) : '–');
const ratio = (a: number, b: number) => (Number.isFinite(a / b) ? (a / b).toFixed(2) : '–');

/** Targets from issue 6, for the N they name. */
function targets(rows: Row[]): string[] {
  const out: string[] = [];
  const check = (ok: boolean, what: string) => out.push(`- ${ok ? 'PASS' : 'FAIL'}: ${what}`);
  for (const r of rows) {
    const peakLimit = r.n === 10_000 ? 200 : r.n === 50_000 ? 600 : undefined;
    if (peakLimit === undefined) continue;
    const p = r.plainMs / r.swanctlMs;
    const g = r.gzipMs / r.swanctlMs;
    check(p <= 1.0, `N=${r.n}: plain scrape / swanctl = ${p.toFixed(2)} (target <= 1.0)`);
    check(g <= 1.5, `N=${r.n}: gzip scrape / swanctl = ${g.toFixed(2)} (target <= 1.5)`);
    // The issue's targets are in MB (10^6 bytes): 200 MB is 190.7 MiB.
    check(
      r.peakRss <= peakLimit * 1e6,
      `N=${r.n}: peak RSS ${MiB(r.peakRss)} MiB = ${(r.peakRss / 1e6).toFixed(1)} MB (target <= ${peakLimit} MB)`,
    );
  }
  for (const r of rows) {
    check(r.idleRss <= 70e6, `N=${r.n}: idle RSS ${MiB(r.idleRss)} MiB (target <= 70 MB)`);
  }
  // "Cost about one": what the exporter spends (CPU), and the wall time, which also holds the client
  // reading ten times the bytes on the same two cores.
  for (const r of rows) {
    const c = r.cpuConcurrentMs / r.cpuPlainMs;
    check(
      c <= 1.5,
      `N=${r.n}: exporter CPU for ${SETTINGS.concurrency} concurrent scrapes / for one = ${c.toFixed(2)} (target: about 1, <= 1.5)`,
    );
    const w = r.concurrentMs / r.plainMs;
    check(
      w <= 1.5,
      `N=${r.n}: wall time of ${SETTINGS.concurrency} concurrent scrapes / of one = ${w.toFixed(2)} (target: about 1, <= 1.5)`,
    );
  }
  return out;
}

function machine(): string {
  const cpu = os.cpus()[0]?.model ?? '?';
  let swanctl = '?';
  try {
    const help = execFileSync(SETTINGS.swanctl, ['--help'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    swanctl = /strongSwan [^\n]*swanctl/.exec(help)?.[0] ?? '?';
  } catch {
    // reported as '?'
  }
  let commit = env.BENCH_COMMIT ?? '?';
  if (env.BENCH_COMMIT === undefined)
    try {
      commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    } catch {
      // not a checkout
    }
  return `${os.cpus().length} x ${cpu}, ${MiB(os.totalmem())} MiB RAM, Linux ${os.release()}, Node ${process.version}, ${swanctl}, commit ${commit}`;
}

export function renderMarkdown(rows: Row[], started: Date, elapsedS: number): string {
  const s = SETTINGS;
  const lines = [
    `# Benchmark: exporter vs swanctl on the synthetic charon (${started.toISOString().slice(0, 16).replace('T', ' ')} UTC)`,
    '',
    `Machine: ${machine()}.`,
    '',
    `Settings: C = ${s.children} CHILD SAs per IKE SA, ${s.conns === undefined ? 'one connection config per IKE SA' : `${s.conns} connection configs`}${s.charonArgs.length ? ` (synthetic charon: ${s.charonArgs.join(' ')})` : ''}, ` +
      `${s.rounds} rounds after ${s.warmup} warm-up, medians; exporter: \`node dist/src/cli/main.js --vici.timeout 60s${s.exporterArgs.length ? ` ${s.exporterArgs.join(' ')}` : ''}\` ` +
      `with collectors ${rows[0]?.collectors ?? '?'}${s.nodeArgs.length ? `, node ${s.nodeArgs.join(' ')}` : ''}${binEnvText(CLI)}; scrapes timed with ${s.client === 'curl' ? 'curl' : "Node's http client"}. Run took ${elapsedS.toFixed(0)} s.`,
    '',
    '## Scrape time against swanctl',
    '',
    '| IKE SAs | listing | swanctl --raw | VICI floor | plain scrape | plain / swanctl | gzip scrape | gzip / swanctl | plain size | gzip size | series |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map(
      (r) =>
        `| ${r.n.toLocaleString('en-US')} | ${MiB(r.listingBytes)} MiB | ${ms(r.swanctlMs)} ms | ${ms(r.floorMs)} ms | ${ms(r.plainMs)} ms | ${ratio(r.plainMs, r.swanctlMs)} | ${ms(r.gzipMs)} ms | ${ratio(r.gzipMs, r.swanctlMs)} | ${MiB(r.plainBytes)} MiB | ${MiB(r.gzipBytes)} MiB | ${Number.isFinite(r.series) ? r.series.toLocaleString('en-US') : '–'} |`,
    ),
    '',
    '## Exporter resources, concurrency, and the synthetic daemon',
    '',
    `| IKE SAs | CPU / plain scrape | CPU / gzip scrape | idle RSS | peak RSS | ${s.concurrency} concurrent | ${s.concurrency} concurrent / one | CPU / ${s.concurrency} concurrent | CPU ${s.concurrency} concurrent / one | daemon render | daemon send (swanctl) | daemon send (exporter) |`,
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map(
      (r) =>
        `| ${r.n.toLocaleString('en-US')} | ${ms(r.cpuPlainMs)} ms | ${ms(r.cpuGzipMs)} ms | ${MiB(r.idleRss)} MiB | ${MiB(r.peakRss)} MiB | ${ms(r.concurrentMs)} ms | ${ratio(r.concurrentMs, r.plainMs)} | ${ms(r.cpuConcurrentMs)} ms | ${ratio(r.cpuConcurrentMs, r.cpuPlainMs)} | ${ms(r.serverBuildMs)} ms | ${ms(r.serverSendSwanctlMs)} ms | ${ms(r.serverSendExporterMs)} ms |`,
    ),
    '',
    ...rows.flatMap((r) =>
      r.errors.map((e) => `- N=${r.n}: **failed**: ${e.replace(/\s+/g, ' ').slice(0, 400)}`),
    ),
    '',
    '## Targets (issue 6)',
    '',
    ...targets(rows),
    '',
    '## What the columns mean',
    '',
    '- *listing*: bytes of the list-sas reply on the wire (all list-sa events and the final response).',
    '- *swanctl --raw*: wall time of `swanctl --list-sas --raw --uri unix://... > /dev/null` (process start included).',
    "- *VICI floor*: the same listing read by a client that only walks frame headers (no decoding): transfer plus the daemon's send (and its render when that second's listing is not cached yet).",
    SETTINGS.client === 'curl'
      ? "- *plain / gzip scrape*: wall time of `curl -o /dev/null` for `GET /metrics` without / with `Accept-Encoding: gzip` (process start to last byte received, as swanctl is timed; `BENCH_CLIENT=node` times Node's http client instead)."
      : "- *plain / gzip scrape*: wall time of `GET /metrics` by Node's http client without / with `Accept-Encoding: gzip`, request sent to last byte received.",
    '- *series*: sample lines of the plain response. *CPU*: user+system time of the exporter process during one scrape (10 ms ticks).',
    '- *idle RSS*: VmRSS 1 s after start, before any scrape. *peak RSS*: VmHWM after all scrapes of that N.',
    `- *${s.concurrency} concurrent*: wall time until all of ${s.concurrency} simultaneous plain scrapes are answered${s.client === 'curl' ? ` (one curl process with ${s.concurrency} parallel transfers)` : ''}.`,
    '- *daemon render*: the synthetic charon rendering the listing (median of the non-cached renders; a listing is reused within the same second).',
    `- Each round runs swanctl, the floor reader, a plain, a gzip and ${s.concurrency} concurrent plain scrapes back to back (same conditions for the ratios). *CPU / ${s.concurrency} concurrent*: the exporter's CPU during that concurrent round; the clients' reading is not in it, the kernel's sending to ${s.concurrency} sockets is.`,
    '- *daemon send*: from the list-sas request to the final CMD_RESPONSE handed to the kernel; bounded below by how fast the client reads.',
    '',
    'Reproduce: `npm run bench` (all N) or e.g. `BENCH_N=1000,10000 BENCH_ROUNDS=3 npm run bench`.',
    '',
  ];
  return lines.join('\n');
}

async function main(): Promise<void> {
  for (const f of [SERVER, CLI]) {
    if (!fs.existsSync(f)) throw new Error(`${f} missing: run npm run build first`);
  }
  const started = new Date();
  const watchdog = setTimeout(() => {
    log(`no result within BENCH_TIMEOUT_S=${SETTINGS.timeoutS}: giving up`);
    killAllNow();
    process.exit(1);
  }, SETTINGS.timeoutS * 1000);
  watchdog.unref();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ssw-bench-'));
  const rows: Row[] = [];
  try {
    for (const n of SETTINGS.ns) rows.push(await benchOne(n, dir));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const md = renderMarkdown(rows, started, (Date.now() - started.getTime()) / 1000);
  process.stdout.write(`${md}\n`);
  fs.mkdirSync(SETTINGS.out, { recursive: true });
  fs.writeFileSync(path.join(SETTINGS.out, 'latest.md'), md);
  log(`written to ${path.relative(process.cwd(), SETTINGS.out) || '.'}/latest.md`);
  clearTimeout(watchdog);
}

main().catch((err: unknown) => {
  log(`failed: ${err instanceof Error ? err.message : String(err)}`);
  killAllNow();
  process.exit(1);
});
