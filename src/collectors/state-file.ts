// The events collector's state file: JSON with a kind and a version, written atomically (a new file,
// flushed, then renamed over the old one, so a crash leaves the old file or the new, never half of
// one), read once at start. It holds counters and SA ids, nothing secret.

import fs from 'node:fs';
import path from 'node:path';
import { type EventSnapshot, upgradeSnapshot } from './events-snapshot.js';

export const STATE_KIND = 'strongswan_exporter events state';
export const STATE_VERSION = 3;
/** Versions this exporter reads: 2 is upgraded as it is read (see upgradeSnapshot). */
const READS = [2, 3];

export interface StateFile {
  kind: typeof STATE_KIND;
  version: typeof STATE_VERSION;
  /** When it was written, ms since the epoch. */
  savedAt: number;
  /** The VICI address of the target it belongs to. */
  address: string;
  /** The daemon's start (stats uptime.since), seconds since the epoch: tells one daemon run from the next. */
  daemonSince: number | null;
  state: EventSnapshot;
}

export type ReadResult = { ok: true; file: StateFile } | { ok: false; missing: boolean; why: string };

/** Read and check a state file's envelope (the state itself is checked as it is restored). */
export function readStateFile(file: string): ReadResult {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    return {
      ok: false,
      missing: e.code === 'ENOENT',
      why: e.code === 'ENOENT' ? 'no state file yet' : e.message,
    };
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    return { ok: false, missing: false, why: `not JSON: ${(err as Error).message}` };
  }
  const f = data as Partial<StateFile> | null;
  if (typeof f !== 'object' || f === null || f.kind !== STATE_KIND)
    return { ok: false, missing: false, why: 'not a state file of this exporter' };
  if (!READS.includes(f.version as number))
    return {
      ok: false,
      missing: false,
      why: `version ${String(f.version)}, this exporter reads ${READS.join(' and ')}`,
    };
  if (typeof f.savedAt !== 'number' || typeof f.address !== 'string' || typeof f.state !== 'object')
    return { ok: false, missing: false, why: 'incomplete' };
  if (f.daemonSince !== null && typeof f.daemonSince !== 'number')
    return { ok: false, missing: false, why: 'incomplete' };
  const state = upgradeSnapshot(f.state, f.version as number) as EventSnapshot;
  return { ok: true, file: { ...(f as StateFile), version: STATE_VERSION, state } };
}

/** Write the state file atomically, readable by its owner only. */
export async function writeStateFile(file: string, content: StateFile): Promise<void> {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  const fh = await fs.promises.open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(JSON.stringify(content));
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await fs.promises.rename(tmp, file);
  } catch (err) {
    await fs.promises.rm(tmp, { force: true });
    throw err;
  }
}
