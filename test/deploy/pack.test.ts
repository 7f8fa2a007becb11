// `npm pack` makes a package that installs globally and runs: the tarball holds the built exporter
// (no tests, no TypeScript), `npm install -g --prefix` of it fetches only the runtime dependencies
// (from the npm cache when it can: --prefer-offline), and the installed bin answers --version, --help,
// and a failing `query` with one line and a non-zero exit. The tarball is made from the current dist/
// (run after `npx tsc -p .`), with --ignore-scripts so that packing does not rebuild the tree.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ROOT } from '../e2e/lab.js';

interface PackInfo {
  filename: string;
  files: { path: string; size: number }[];
  size: number;
  unpackedSize: number;
}

const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  name: string;
  version: string;
  bin: Record<string, string>;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const npmEnv = { ...process.env, npm_config_update_notifier: 'false', npm_config_fund: 'false' };

describe('npm pack: a package that installs globally and runs', { timeout: 180_000 }, () => {
  let tmp = '';
  let info: PackInfo;
  let bin = '';
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'npm-pack-'));
    const r = spawnSync(NPM, ['pack', '--pack-destination', tmp, '--ignore-scripts', '--json'], {
      cwd: ROOT,
      encoding: 'utf8',
      env: npmEnv,
      timeout: 60_000,
    });
    assert.equal(r.status, 0, r.stderr);
    info = (JSON.parse(r.stdout) as PackInfo[])[0] as PackInfo;
  });
  after(() => {
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('packs the built exporter and its bin, without tests or TypeScript sources', (t) => {
    const files = info.files.map((f) => f.path);
    t.diagnostic(
      `${info.filename}: ${files.length} files, ${info.size} bytes packed, ${info.unpackedSize} unpacked`,
    );
    assert.ok(files.includes('package.json'));
    assert.equal(pkg.bin.strongswan_exporter, 'dist/src/cli/main.js');
    assert.ok(files.includes('dist/src/cli/main.js'));
    assert.ok(files.includes('dist/src/version.js'));
    assert.deepEqual(
      files.filter((f) => /\.test\.js$/.test(f) || f.startsWith('dist/test/')),
      [],
      'no tests',
    );
    assert.deepEqual(
      files.filter((f) => /\.ts$/.test(f)),
      [],
      'no TypeScript',
    );
    assert.deepEqual(
      files.filter((f) => !f.startsWith('dist/') && !['package.json', 'README.md', 'LICENSE'].includes(f)),
      [],
      'nothing outside dist/ but the package metadata',
    );
    const extra = files.filter((f) => f.startsWith('dist/') && !f.startsWith('dist/src/'));
    if (extra.length > 0) t.diagnostic(`also packed, not needed at runtime: ${extra.join(', ')}`);
  });

  it('installs globally (runtime dependencies only) and runs', async (t) => {
    const prefix = path.join(tmp, 'prefix');
    const t0 = Date.now();
    const r = spawnSync(
      NPM,
      [
        'install',
        '-g',
        '--prefix',
        prefix,
        '--prefer-offline',
        '--no-audit',
        '--no-fund',
        path.join(tmp, info.filename),
      ],
      { encoding: 'utf8', env: npmEnv, timeout: 150_000 },
    );
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
    t.diagnostic(`npm install -g took ${Date.now() - t0} ms`);
    bin = path.join(prefix, 'bin', 'strongswan_exporter');
    assert.ok(fs.existsSync(bin), bin);

    const installed = path.join(prefix, 'lib', 'node_modules', pkg.name);
    const deps = fs.readdirSync(path.join(installed, 'node_modules'));
    for (const d of Object.keys(pkg.dependencies)) {
      assert.ok(fs.existsSync(path.join(installed, 'node_modules', d)), `dependency ${d}`);
    }
    for (const d of Object.keys(pkg.devDependencies)) {
      assert.ok(!fs.existsSync(path.join(installed, 'node_modules', d)), `dev dependency ${d} installed`);
    }
    t.diagnostic(`installed dependencies: ${deps.join(', ')}`);

    const v = spawnSync(bin, ['--version'], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(v.status, 0, v.stderr);
    assert.match(
      v.stdout,
      new RegExp(`^strongswan_exporter ${pkg.version.replace(/\./g, '\\.')} \\(node v\\d+`),
    );

    // The bin's shebang gives node its flags (a smaller young generation, a full GC after a big
    // scrape; see src/cli/main.ts).
    const running = spawn(bin, ['--web.listen-address', '127.0.0.1:0'], { stdio: 'ignore' });
    try {
      let argv: string[] = [];
      for (let i = 0; path.basename(argv[0] ?? '') !== 'node'; i++) {
        assert.ok(i < 100, 'the bin started node');
        await sleep(50);
        argv = fs.readFileSync(`/proc/${running.pid}/cmdline`, 'utf8').split('\0');
      }
      assert.ok(argv.includes('--max-semi-space-size=16'), argv.join(' '));
      assert.ok(argv.includes('--expose-gc'), argv.join(' '));
      const environ = fs.readFileSync(`/proc/${running.pid}/environ`, 'utf8').split('\0');
      assert.ok(environ.includes('MALLOC_MMAP_THRESHOLD_=131072'), 'the shebang sets MALLOC_MMAP_THRESHOLD_');
    } finally {
      running.kill();
    }

    const h = spawnSync(bin, ['--help'], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(h.status, 0, h.stderr);
    assert.match(h.stdout, /^usage: strongswan_exporter/);
    assert.match(h.stdout, /--\[no-\]collector\.sas /);

    const q = spawnSync(bin, ['query', 'version', '--vici.address', 'unix:///nonexistent'], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.notEqual(q.status, 0);
    assert.equal(q.stdout, '');
    const lines = q.stderr.split('\n').filter((l) => l !== '');
    assert.equal(lines.length, 1, q.stderr);
    assert.match(lines[0] ?? '', /nonexistent/);
  });
});
