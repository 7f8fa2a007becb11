// Logging: pino, written synchronously to stderr, as logfmt (default) or JSON lines.

import { pino } from 'pino';

export type LogFormat = 'logfmt' | 'json';
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const LEVEL_NAMES: Readonly<Record<number, string>> = {
  10: 'trace',
  20: 'debug',
  30: 'info',
  40: 'warn',
  50: 'error',
  60: 'fatal',
};

function logfmtValue(v: unknown): string {
  const s = typeof v === 'string' ? v : v instanceof Object ? JSON.stringify(v) : String(v);
  return /^[^\s"=\\]+$/.test(s) ? s : JSON.stringify(s);
}

/** One pino JSON line as logfmt: `ts=... level=info msg="..." key=value ...`. */
export function toLogfmt(line: string): string {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const { time, level, msg, ...rest } = rec;
  let out = `ts=${String(time)} level=${LEVEL_NAMES[Number(level)] ?? level}`;
  if (msg !== undefined) out += ` msg=${logfmtValue(msg)}`;
  for (const [k, v] of Object.entries(rest)) {
    if (k === 'pid' || k === 'hostname') continue;
    out += ` ${k}=${logfmtValue(v)}`;
  }
  return `${out}\n`;
}

/** What the exporter logs through (pino's logger is one): the one logger type of every layer. */
export interface Logger {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export function createLogger(
  level: LogLevel,
  format: LogFormat,
  write: (s: string) => void = (s) => process.stderr.write(s),
): Logger {
  const dest = { write: (line: string) => write(format === 'logfmt' ? toLogfmt(line) : line) };
  return pino({ level, base: undefined, timestamp: pino.stdTimeFunctions.isoTime }, dest);
}
