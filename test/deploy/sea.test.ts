// The single executable's script (src/cli/sea.ts bundled as scripts/release/sea.sh bundles it),
// run by this node from a directory with no package.json: it knows its version without one, and at
// start-up it warns about exactly the runtime settings its environment lacks (the semi-space size
// and glibc's mmap threshold; gc it exposes itself). The executable itself, which needs npm's Node.js
// binaries, is checked by scripts/release/check-sea.sh.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ROOT } from '../e2e/lab.js';
import { Child, freePort, waitFor } from '../helpers/processes.js';

const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
const SEMI = /NODE_OPTIONS has no --max-semi-space-size/;
const MMAP = /MALLOC_MMAP_THRESHOLD_ is not set/;
const GC = /gc could not be exposed/;

describe('the single executable script (bundle of src/cli/sea.ts)', { timeout: 60_000 }, () => {
  let tmp = '';
  let bundle = '';
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sea-bundle-'));
    bundle = path.join(tmp, 'strongswan_exporter.cjs');
    // the same esbuild options as scripts/release/sea.sh
    const r = spawnSync(
      path.join(ROOT, 'node_modules/.bin/esbuild'),
      [
        'src/cli/sea.ts',
        '--bundle',
        '--platform=node',
        '--format=cjs',
        '--target=node20',
        `--define:STRONGSWAN_EXPORTER_VERSION="${pkg.version}"`,
        '--legal-comments=none',
        '--log-level=warning',
        `--outfile=${bundle}`,
      ],
      { cwd: ROOT, encoding: 'utf8', timeout: 30_000 },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, '', 'esbuild warned');
  });
  after(() => {
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('answers --version with the compiled-in version, no package.json needed', () => {
    const r = spawnSync(process.execPath, [bundle, '--version'], { cwd: tmp, encoding: 'utf8', env: {} });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, `strongswan_exporter ${pkg.version} (node ${process.version})\n`);
  });

  async function startupLog(env: NodeJS.ProcessEnv): Promise<string> {
    const port = await freePort();
    const child = new Child(
      spawn(
        process.execPath,
        [bundle, '--web.listen-address', `127.0.0.1:${port}`, '--vici.address', `unix://${tmp}/none.vici`],
        { cwd: tmp, env, stdio: ['ignore', 'pipe', 'pipe'] },
      ),
    );
    try {
      await waitFor('exporter', async () => (await fetch(`http://127.0.0.1:${port}/-/healthy`)).ok);
    } finally {
      await child.stop();
    }
    assert.match(child.output, /starting strongswan_exporter/);
    return child.output;
  }

  it('warns at start-up about the semi-space size and the mmap threshold when the environment lacks them', async () => {
    const out = await startupLog({});
    assert.match(out, SEMI);
    assert.match(out, MMAP);
    assert.doesNotMatch(out, GC);
  });

  it('does not warn when they are set, as the image sets them', async () => {
    const out = await startupLog({
      NODE_OPTIONS: '--max-semi-space-size=16',
      MALLOC_MMAP_THRESHOLD_: '131072',
    });
    assert.doesNotMatch(out, SEMI);
    assert.doesNotMatch(out, MMAP);
    assert.doesNotMatch(out, GC);
  });
});
