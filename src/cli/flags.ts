// Every flag of the exporter, in the style of the Prometheus exporters. --[no-]collector.NAME flags are
// generated from the collector registry. Bad flags are an Error with a one-line message (exit 2).

import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { type Collector, type CollectorOptions, DEFAULT_OPTIONS } from '../collectors/collector.js';
import { LOG_LEVELS, type LogFormat, type LogLevel } from '../log.js';
import { parseDuration } from '../server/duration.js';
import type { ListenAddress } from '../server/listeners.js';
import { DEFAULT_VICI_ADDRESS, parseAddress } from '../vici/index.js';

export class UsageError extends Error {
  readonly exitCode = 2;
}

export interface Config {
  hideRemoteIdentities: boolean;
  viciAddress: string;
  /** Whether --vici.address was given (with --config.file, /metrics then also scrapes it). */
  viciAddressSet: boolean;
  webConfigFile: string | undefined;
  systemdSocket: boolean;
  configFile: string | undefined;
  viciTimeoutMs: number;
  listen: ListenAddress[];
  telemetryPath: string;
  disableExporterMetrics: boolean;
  logLevel: LogLevel;
  logFormat: LogFormat;
  collectors: Collector[];
  /** Where the events collector keeps its counters across restarts (one file per target). */
  eventsStateDirectory: string | undefined;
  /** What collectors write (the privacy flag and the users collector's bounds). */
  options: CollectorOptions;
  help: boolean;
  version: boolean;
}

interface FlagDoc {
  flag: string;
  help: string;
  def?: string;
}

const FLAG_DOCS: FlagDoc[] = [
  {
    flag: '--vici.address=URI',
    help: 'VICI socket of charon: unix:///path, a bare path, or tcp://host:port.',
    def: DEFAULT_VICI_ADDRESS,
  },
  {
    flag: '--vici.timeout=DURATION',
    help: 'Bound for the VICI queries of one scrape (and for connecting).',
    def: '5s',
  },
  {
    flag: '--web.listen-address=ADDR',
    help: 'Address to listen on for HTTP, host:port or :port; repeat the flag for several.',
    def: ':9814',
  },
  { flag: '--web.telemetry-path=PATH', help: 'Path under which to expose metrics.', def: '/metrics' },
  {
    flag: '--web.config.file=FILE',
    help: 'Exporter-toolkit web configuration (TLS, basic auth, headers); reloaded on change and on SIGHUP.',
  },
  {
    flag: '--web.systemd-socket',
    help: 'Serve on the sockets systemd passes in (socket activation) instead of listening.',
  },
  {
    flag: '--config.file=FILE',
    help: 'Named VICI targets for /probe?target=NAME (YAML: targets: {NAME: {address, timeout}}).',
  },
  {
    flag: '--web.disable-exporter-metrics',
    help: "Leave out the exporter's own process metrics (process_*, nodejs_*).",
  },
  {
    flag: '--log.level=LEVEL',
    help: `Only log messages with the given severity or above: ${LOG_LEVELS.join(', ')}.`,
    def: 'info',
  },
  { flag: '--log.format=FORMAT', help: 'Output format of log messages: logfmt or json.', def: 'logfmt' },
  {
    flag: '--privacy.hide-remote-identities',
    help: 'Leave remote identities (peer IKE ids, EAP and XAuth identities, subjects of peer certificates) out of labels; peer addresses and virtual IPs stay (remote_host, remote_vips).',
  },
  {
    flag: '--collector.events.state-directory=DIR',
    help: "Keep the events collector's counters in DIR (written every minute and at shutdown), so that a restart continues them instead of starting from 0.",
  },
  {
    flag: '--collector.users.max-users=N',
    help: 'The users collector tracks at most N users (others are counted in strongswan_users_dropped_total).',
    def: String(DEFAULT_OPTIONS.maxUsers),
  },
  {
    flag: '--collector.users.forget-after=DURATION',
    help: 'The users collector forgets a user (its series) not seen for this long.',
    def: '24h',
  },
  { flag: '--version', help: 'Show the version and exit.' },
  { flag: '-h, --help', help: 'Show this help and exit.' },
];

export function usage(collectors: readonly Collector[]): string {
  const lines = [
    'usage: strongswan_exporter [flags]',
    '       strongswan_exporter scrape [--output FILE] [flags]',
    '       strongswan_exporter query COMMAND [key=value ...] [--vici.address URI] [--vici.timeout 5s]',
    '',
    'Prometheus exporter for the strongSwan IPsec daemon (charon), over its VICI socket.',
    '',
    'Flags:',
  ];
  // the longest flag and two spaces
  const width = Math.max(...FLAG_DOCS.map((d) => d.flag.length)) + 2;
  const pad = (s: string) => s.padEnd(width);
  for (const d of FLAG_DOCS) lines.push(`  ${pad(d.flag)}${d.help}${d.def ? ` (default: ${d.def})` : ''}`);
  lines.push('', 'Collectors (enable with --collector.NAME, disable with --no-collector.NAME):');
  for (const c of collectors) {
    lines.push(
      `  ${pad(`--[no-]collector.${c.name}`)}${c.help} (default: ${c.defaultEnabled ? 'enabled' : 'disabled'})`,
    );
  }
  lines.push(
    '',
    'One scrape: `strongswan_exporter scrape --help`. Debugging: `strongswan_exporter query --help`.',
    '',
  );
  return lines.join('\n');
}

export function parseListenAddress(s: string): ListenAddress {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(s.trim());
  const port = m ? Number(m[3]) : Number.NaN;
  if (!m || !(port >= 0 && port <= 65535)) {
    throw new UsageError(`invalid --web.listen-address "${s}" (expected host:port or :port)`);
  }
  const host = m[1] ?? m[2];
  return { host: host === '' ? undefined : host, port };
}

type OptionSpecs = Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }>;

/** The server's flags for node:util's parseArgs, the --[no-]collector.NAME ones from the registry. */
export function optionSpecs(registry: readonly Collector[]): OptionSpecs {
  const options: OptionSpecs = {
    'vici.address': { type: 'string' },
    'vici.timeout': { type: 'string' },
    'web.listen-address': { type: 'string', multiple: true },
    'web.telemetry-path': { type: 'string' },
    'web.config.file': { type: 'string' },
    'web.systemd-socket': { type: 'boolean' },
    'config.file': { type: 'string' },
    'web.disable-exporter-metrics': { type: 'boolean' },
    'log.level': { type: 'string' },
    'log.format': { type: 'string' },
    'privacy.hide-remote-identities': { type: 'boolean' },
    'collector.events.state-directory': { type: 'string' },
    'collector.users.max-users': { type: 'string' },
    'collector.users.forget-after': { type: 'string' },
    version: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  };
  for (const c of registry) {
    options[`collector.${c.name}`] = { type: 'boolean' };
    options[`no-collector.${c.name}`] = { type: 'boolean' };
  }
  return options;
}

/** parseArgs, strict, with tokens; a bad flag is a UsageError of one line ending in `hint`. */
export function parseStrict(
  argv: string[],
  options: OptionSpecs,
  hint: string,
): ReturnType<typeof parseArgs> {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: false, tokens: true });
  } catch (err) {
    throw new UsageError(`${(err as Error).message.split('\n')[0]} ${hint}`);
  }
}

export function parseFlags(argv: string[], registry: readonly Collector[]): Config {
  const parsed = parseStrict(argv, optionSpecs(registry), '(see --help)');
  const v = parsed.values as Record<string, string | boolean | string[] | undefined>;
  const str = (k: string, def: string) => (typeof v[k] === 'string' ? (v[k] as string) : def);

  const viciAddress = str('vici.address', DEFAULT_VICI_ADDRESS);
  try {
    parseAddress(viciAddress);
  } catch (err) {
    throw new UsageError(`--vici.address: ${(err as Error).message}`);
  }
  let viciTimeoutMs: number;
  try {
    viciTimeoutMs = parseDuration(str('vici.timeout', '5s'));
  } catch (err) {
    throw new UsageError(`--vici.timeout: ${(err as Error).message}`);
  }
  if (viciTimeoutMs <= 0) throw new UsageError('--vici.timeout must be positive');
  const listen = ((v['web.listen-address'] as string[] | undefined) ?? [':9814']).map(parseListenAddress);
  const telemetryPath = str('web.telemetry-path', '/metrics');
  if (!telemetryPath.startsWith('/') || telemetryPath === '/' || telemetryPath.startsWith('/-/')) {
    throw new UsageError(
      `invalid --web.telemetry-path "${telemetryPath}" (must start with / and not be / or /-/...)`,
    );
  }
  const logLevel = str('log.level', 'info');
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    throw new UsageError(`invalid --log.level "${logLevel}" (one of ${LOG_LEVELS.join(', ')})`);
  }
  const logFormat = str('log.format', 'logfmt');
  if (logFormat !== 'logfmt' && logFormat !== 'json') {
    throw new UsageError(`invalid --log.format "${logFormat}" (logfmt or json)`);
  }
  // The last of --collector.X / --no-collector.X wins, as with kingpin's boolean flags.
  const enabled = new Map(registry.map((c) => [c.name, c.defaultEnabled]));
  for (const t of parsed.tokens ?? []) {
    if (t.kind !== 'option') continue;
    const on = t.name.startsWith('collector.') ? t.name.slice('collector.'.length) : undefined;
    const off = t.name.startsWith('no-collector.') ? t.name.slice('no-collector.'.length) : undefined;
    if (on !== undefined && enabled.has(on)) enabled.set(on, true);
    if (off !== undefined && enabled.has(off)) enabled.set(off, false);
  }
  const optional = (k: string) => {
    const val = v[k];
    if (val === undefined) return undefined;
    if (typeof val !== 'string' || val === '') throw new UsageError(`--${k} needs a file name`);
    return val;
  };
  const stateDir = v['collector.events.state-directory'];
  if (stateDir !== undefined) {
    const flag = '--collector.events.state-directory';
    if (typeof stateDir !== 'string' || stateDir === '') throw new UsageError(`${flag} needs a directory`);
    try {
      if (!fs.statSync(stateDir).isDirectory()) throw new Error('not a directory');
      fs.accessSync(stateDir, fs.constants.W_OK);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      throw new UsageError(
        `${flag} "${stateDir}": ${e.code ? `${e.code} (${e.syscall ?? 'access'})` : e.message}`,
      );
    }
  }
  const maxUsers = Number(str('collector.users.max-users', String(DEFAULT_OPTIONS.maxUsers)));
  if (!Number.isSafeInteger(maxUsers) || maxUsers < 1)
    throw new UsageError('--collector.users.max-users must be a whole number of at least 1');
  let usersForgetAfterMs: number;
  try {
    usersForgetAfterMs = parseDuration(str('collector.users.forget-after', '24h'));
  } catch (err) {
    throw new UsageError(`--collector.users.forget-after: ${(err as Error).message}`);
  }
  if (usersForgetAfterMs <= 0) throw new UsageError('--collector.users.forget-after must be positive');
  const hideRemoteIdentities = v['privacy.hide-remote-identities'] === true;
  return {
    hideRemoteIdentities,
    options: { hideRemoteIdentities, maxUsers, usersForgetAfterMs },
    eventsStateDirectory: typeof stateDir === 'string' ? stateDir : undefined,
    viciAddress,
    viciAddressSet: typeof v['vici.address'] === 'string',
    webConfigFile: optional('web.config.file'),
    systemdSocket: v['web.systemd-socket'] === true,
    configFile: optional('config.file'),
    viciTimeoutMs,
    listen,
    telemetryPath,
    disableExporterMetrics: v['web.disable-exporter-metrics'] === true,
    logLevel: logLevel as LogLevel,
    logFormat,
    collectors: registry.filter((c) => enabled.get(c.name) === true),
    help: v.help === true,
    version: v.version === true,
  };
}
