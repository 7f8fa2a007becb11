// Load recorded `query` output (JSON lines) into a FakeCharon: the streamed events and the response.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ViciInput } from '../../src/vici/index.js';
import type { FakeCharon, Reply } from './server.js';

export const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../test/fixtures');

export function fixtureReply(file: string): Reply {
  const lines = fs
    .readFileSync(path.join(FIXTURES, file), 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as { event?: string; message?: ViciInput; response?: ViciInput });
  return {
    events: lines
      .filter((l) => l.event)
      .map((l) => ({ name: l.event as string, message: l.message as ViciInput })),
    response: lines.find((l) => l.response)?.response ?? {},
  };
}

/** A FakeCharon answering version, list-sas and list-conns from the recorded lab fixtures. */
export function serveLabFixtures(fake: FakeCharon): FakeCharon {
  return fake
    .on('version', () => ({
      response: { daemon: 'charon', version: '5.9.8', sysname: 'Linux', release: '6.1.0', machine: 'x86_64' },
    }))
    .on('list-sas', () => fixtureReply('list-sas.jsonl'))
    .on('list-conns', () => fixtureReply('list-conns.jsonl'));
}
