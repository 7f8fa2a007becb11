import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { readStateFile, STATE_KIND, STATE_VERSION, type StateFile, writeStateFile } from './state-file.js';

describe('state file', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'state-file-test-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const content = (): StateFile => ({
    kind: STATE_KIND,
    version: STATE_VERSION,
    savedAt: 1_800_000_000_000,
    address: 'unix:///run/charon.vici',
    daemonSince: 1_799_999_000,
    state: {
      conns: { gw: [1, 0, 0, 2] },
      children: [],
      sas: [],
      ikes: [],
      alerts: [['gw', 'peer-auth-failed', 3]],
    },
  });

  it('is written atomically, for its owner only, and read back as written', async () => {
    const f = path.join(dir, 'a.json');
    await writeStateFile(f, content());
    await writeStateFile(f, { ...content(), savedAt: 1_800_000_060_000 });
    assert.equal(fs.statSync(f).mode & 0o777, 0o600);
    assert.deepEqual(fs.readdirSync(dir), ['a.json'], 'no temporary file left');
    const r = readStateFile(f);
    assert.ok(r.ok);
    assert.deepEqual(r.file, { ...content(), savedAt: 1_800_000_060_000 });
  });

  it('a write that cannot be made fails and leaves the old file whole', async () => {
    const f = path.join(dir, 'b.json');
    await writeStateFile(f, content());
    await assert.rejects(writeStateFile(path.join(dir, 'no-such-dir', 'b.json'), content()));
    fs.mkdirSync(path.join(dir, 'c.json'));
    await assert.rejects(writeStateFile(path.join(dir, 'c.json'), content()));
    assert.deepEqual(fs.readdirSync(dir).sort(), ['a.json', 'b.json', 'c.json'], 'no temporary file left');
    assert.ok(readStateFile(f).ok);
  });

  it('says why it cannot be used: missing, unreadable, not JSON, not ours, another version, incomplete', () => {
    const write = (name: string, text: string) => {
      const f = path.join(dir, name);
      fs.writeFileSync(f, text);
      return f;
    };
    const cases: [string, RegExp, boolean][] = [
      [path.join(dir, 'missing.json'), /no state file yet/, true],
      [dir, /EISDIR/, false],
      [write('half.json', JSON.stringify(content()).slice(0, 40)), /^not JSON: /, false],
      [write('other.json', '{"kind":"something else"}'), /not a state file of this exporter/, false],
      [
        write('v9.json', JSON.stringify({ ...content(), version: 9 })),
        /version 9, this exporter reads 2 and 3/,
        false,
      ],
      [write('nostate.json', JSON.stringify({ ...content(), state: undefined })), /incomplete/, false],
      [write('since.json', JSON.stringify({ ...content(), daemonSince: 'yesterday' })), /incomplete/, false],
    ];
    for (const [f, why, missing] of cases) {
      const r = readStateFile(f);
      assert.ok(!r.ok, f);
      assert.match(r.why, why, f);
      assert.equal(r.missing, missing, f);
    }
  });
});
