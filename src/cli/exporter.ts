// `strongswan_exporter [flags]`: parse flags, load the web and targets configurations, start the
// listeners, reload on SIGHUP and when a configuration or certificate file changes (a broken new file
// keeps the old configuration and says why), and stop cleanly on SIGTERM/SIGINT.

import fs from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import type { Collector, CollectorOptions } from '../collectors/collector.js';
import { COLLECTORS } from '../collectors/registry.js';
import { createLogger, type Logger } from '../log.js';
import { SelfMetrics } from '../metrics/self.js';
import { Gate } from '../server/auth.js';
import { createServer, listen, type Server, systemdFds, updateTls } from '../server/listeners.js';
import { createHandler, type WebState } from '../server/server.js';
import { Target } from '../server/target.js';
import { loadTargetsConfig, type TargetConfig } from '../server/targets-config.js';
import { loadWebConfig, type WebConfig } from '../server/web-config.js';
import { VERSION } from '../version.js';
import { parseAddress } from '../vici/index.js';
import { type Config, parseFlags, UsageError, usage } from './flags.js';

function webState(cfg: WebConfig | undefined): WebState {
  if (cfg === undefined) return { gate: undefined, headers: {} };
  const needsGate =
    cfg.users.size > 0 ||
    cfg.rateLimit !== undefined ||
    (cfg.tls !== undefined && cfg.tls.clientAuth !== 'NoClientCert');
  return { gate: needsGate ? new Gate(cfg) : undefined, headers: cfg.headers };
}

function warnAboutAddress(log: Logger, address: string, what: string): void {
  const a = parseAddress(address);
  if (a.kind !== 'tcp') return;
  const loopback =
    a.host === 'localhost' || (isIP(a.host) === 4 ? a.host.startsWith('127.') : a.host === '::1');
  if (!loopback) {
    log.warn(
      { target: what, address },
      'VICI over TCP to a non-loopback address: the protocol has no authentication and no encryption',
    );
  }
}

/** The events state file of a target: /metrics' own, or one per /probe target name. */
function stateFile(dir: string | undefined, probe: string | undefined): string | undefined {
  if (dir === undefined) return undefined;
  if (probe === undefined) return path.join(dir, 'metrics.events.json');
  return path.join(dir, `probe-${encodeURIComponent(probe).replaceAll('.', '%2E')}.events.json`);
}

/** The /probe targets, kept across reloads where their settings did not change. */
class TargetSet {
  private targets = new Map<string, Target>();
  constructor(
    private readonly collectors: readonly Collector[],
    private readonly log: Logger,
    private readonly options: CollectorOptions,
    private readonly stateDir: string | undefined,
  ) {}
  get map(): ReadonlyMap<string, Target> {
    return this.targets;
  }
  apply(configs: Map<string, TargetConfig>): void {
    const next = new Map<string, Target>();
    for (const [name, c] of configs) {
      const old = this.targets.get(name);
      if (old && old.opts.address === c.address && old.opts.timeoutMs === c.timeoutMs) next.set(name, old);
      else {
        next.set(
          name,
          new Target({
            name,
            address: c.address,
            timeoutMs: c.timeoutMs,
            collectors: this.collectors,
            log: this.log,
            options: this.options,
            stateFile: stateFile(this.stateDir, name),
          }),
        );
        warnAboutAddress(this.log, c.address, name);
      }
    }
    for (const [name, t] of this.targets) if (next.get(name) !== t) void t.close();
    this.targets = next;
  }
  close(): Promise<void> {
    return Promise.all([...this.targets.values()].map((t) => t.close())).then(() => {});
  }
}

/** The server; `runtimeNotes`: warnings about the runtime (single executable), logged at start. */
export async function runExporter(argv: string[], runtimeNotes: readonly string[] = []): Promise<number> {
  const cfg: Config = parseFlags(argv, COLLECTORS);
  if (cfg.help) {
    process.stdout.write(usage(COLLECTORS));
    return 0;
  }
  if (cfg.version) {
    process.stdout.write(`strongswan_exporter ${VERSION} (node ${process.version})\n`);
    return 0;
  }
  const log = createLogger(cfg.logLevel, cfg.logFormat);

  // Configuration errors at start-up are usage errors: one line, exit 2.
  let web: WebConfig | undefined;
  let targetConfigs = new Map<string, TargetConfig>();
  try {
    if (cfg.webConfigFile) web = loadWebConfig(cfg.webConfigFile);
    if (cfg.configFile) targetConfigs = loadTargetsConfig(cfg.configFile, cfg.viciTimeoutMs);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  let state = webState(web);
  const options: CollectorOptions = cfg.options;
  const fds = cfg.systemdSocket ? systemdFds() : undefined;

  log.info({ version: VERSION, node: process.version }, 'starting strongswan_exporter');
  for (const note of runtimeNotes) log.warn({}, note);
  // With --config.file, /metrics serves the daemon of --vici.address only when that flag was given.
  const target =
    cfg.configFile && !cfg.viciAddressSet
      ? undefined
      : new Target({
          name: 'default',
          address: cfg.viciAddress,
          timeoutMs: cfg.viciTimeoutMs,
          collectors: cfg.collectors,
          log,
          options,
          stateFile: stateFile(cfg.eventsStateDirectory, undefined),
        });
  const probeTargets = new TargetSet(cfg.collectors, log, options, cfg.eventsStateDirectory);
  probeTargets.apply(targetConfigs);
  if (target) {
    log.info(
      {
        address: target.client.where,
        timeout: cfg.viciTimeoutMs / 1000,
        collectors: cfg.collectors.map((c) => c.name).join(','),
      },
      'vici',
    );
    warnAboutAddress(log, cfg.viciAddress, 'default');
  }
  if (cfg.configFile)
    log.info({ file: cfg.configFile, targets: [...targetConfigs.keys()].join(',') }, 'probe targets loaded');
  if (process.getuid?.() === 0)
    log.warn({}, 'running as root: the exporter only needs the group of the VICI socket');

  const handler = createHandler({
    target,
    targets: cfg.configFile ? () => probeTargets.map : undefined,
    web: () => state,
    telemetryPath: cfg.telemetryPath,
    selfMetrics: new SelfMetrics(!cfg.disableExporterMetrics),
    version: VERSION,
    log,
  });

  const servers: Server[] = [];
  const closeAll = () => {
    for (const s of servers) s.close();
    void target?.close();
    void probeTargets.close();
  };
  const places = fds ? fds.map((fd) => ({ fd })) : cfg.listen;
  for (const where of places) {
    const server = createServer(handler, web?.tls);
    try {
      const address = await listen(server, where);
      log.info({ address, tls: web?.tls !== undefined }, 'listening');
    } catch (err) {
      closeAll();
      const what = 'fd' in where ? `fd ${where.fd}` : `${where.host ?? ''}:${where.port}`;
      throw new Error(`listen on ${what}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    servers.push(server);
  }
  log.info({}, web?.tls ? 'TLS is enabled' : 'TLS is disabled');

  // Reloads: the web config (users, headers, certificates) and the targets file.
  const reload = (why: string) => {
    if (cfg.webConfigFile) {
      try {
        const next = loadWebConfig(cfg.webConfigFile);
        if ((next.tls === undefined) !== (web?.tls === undefined))
          throw new Error('switching TLS on or off needs a restart');
        if (next.tls) for (const s of servers) updateTls(s, next.tls);
        web = next;
        state = webState(next);
        watchFiles();
        log.info({ file: cfg.webConfigFile, why }, 'web config reloaded');
      } catch (err) {
        log.error(
          { file: cfg.webConfigFile, why, err: (err as Error).message },
          'web config reload failed, keeping the previous one',
        );
      }
    }
    if (cfg.configFile) {
      try {
        probeTargets.apply(loadTargetsConfig(cfg.configFile, cfg.viciTimeoutMs));
        log.info(
          { file: cfg.configFile, why, targets: [...probeTargets.map.keys()].join(',') },
          'probe targets reloaded',
        );
      } catch (err) {
        log.error(
          { file: cfg.configFile, why, err: (err as Error).message },
          'probe targets reload failed, keeping the previous ones',
        );
      }
    }
  };
  let watched: string[] = [];
  const onChange = (curr: fs.Stats, prev: fs.Stats) => {
    if (curr.mtimeMs !== prev.mtimeMs || curr.size !== prev.size || curr.ino !== prev.ino)
      reload('file changed');
  };
  const watchFiles = () => {
    const files = [cfg.webConfigFile, cfg.configFile, ...(web?.tls?.files ?? [])].filter(
      (f): f is string => f !== undefined,
    );
    for (const f of watched) if (!files.includes(f)) fs.unwatchFile(f, onChange);
    for (const f of files)
      if (!watched.includes(f)) fs.watchFile(f, { interval: 1000, persistent: false }, onChange);
    watched = files;
  };
  watchFiles();
  const onHup = () => reload('SIGHUP');
  process.on('SIGHUP', onHup);

  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      log.info({ signal }, 'shutting down');
      process.off('SIGHUP', onHup);
      for (const f of watched) fs.unwatchFile(f, onChange);
      // The targets put their state away (a last listing and the state file) while the servers close.
      const targetsClosed = Promise.all([target?.close(), probeTargets.close()]).catch(() => {});
      let open = servers.length + 1;
      const closed = () => {
        if (--open === 0) resolve();
      };
      void targetsClosed.then(closed);
      for (const s of servers) {
        s.close(closed);
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
