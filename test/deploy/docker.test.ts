// deploy/docker/Dockerfile, without a Docker engine (there is none on the test machines, so the image
// build itself is not tested here): its instructions are parsed and checked (multi-stage on
// node:20-bookworm-slim, non-root USER, EXPOSE 9814, OCI labels, exec-form ENTRYPOINT, HEALTHCHECK
// on /-/healthy), every file it COPYs from the context exists, its compile step is run as written
// in a copy of the context, the runtime layout its COPY --from=build lines make starts and answers
// --version, and its HEALTHCHECK command tells a healthy exporter from a stopped one.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ROOT } from '../e2e/lab.js';
import { startExporter } from '../helpers/processes.js';

const DOCKERFILE = path.join(ROOT, 'deploy/docker/Dockerfile');

interface Instr {
  op: string;
  args: string;
}
interface Stage {
  from: string;
  name: string | undefined;
  instrs: Instr[];
}

function parseDockerfile(text: string): { args: Map<string, string>; stages: Stage[] } {
  const logical: string[] = [];
  let cur = '';
  for (const raw of text.split('\n')) {
    const line = raw.trimEnd();
    if (/^\s*#/.test(line)) continue; // comments (also inside continuations)
    if (line.endsWith('\\')) {
      cur += `${line.slice(0, -1)} `;
      continue;
    }
    cur += line;
    if (cur.trim() !== '') logical.push(cur.trim());
    cur = '';
  }
  const args = new Map<string, string>();
  const stages: Stage[] = [];
  for (const l of logical) {
    const m = /^([A-Za-z]+)\s+([\s\S]*)$/.exec(l);
    assert.ok(m, `not an instruction: ${l}`);
    const op = (m[1] as string).toUpperCase();
    const rest = m[2] as string;
    if (op === 'FROM') {
      const f = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(rest);
      assert.ok(f, rest);
      stages.push({ from: f[1] as string, name: f[2], instrs: [] });
      continue;
    }
    if (op === 'ARG' && stages.length === 0) {
      const [k, v] = rest.split('=');
      args.set(k as string, v ?? '');
      continue;
    }
    assert.ok(stages.length > 0, `${op} before FROM`);
    stages[stages.length - 1]?.instrs.push({ op, args: rest });
  }
  return { args, stages };
}

const { args, stages } = parseDockerfile(fs.readFileSync(DOCKERFILE, 'utf8'));
const build = stages[0] as Stage;
const runtime = stages[stages.length - 1] as Stage;
const all = (s: Stage, op: string) => s.instrs.filter((i) => i.op === op);
const one = (s: Stage, op: string) => {
  const found = all(s, op);
  assert.equal(found.length, 1, `${op} in stage ${s.name ?? s.from}`);
  return (found[0] as Instr).args;
};
const image = (from: string) => from.replace(/^\$\{?(\w+)\}?$/, (_, k: string) => args.get(k) ?? '');

describe('deploy/docker/Dockerfile (static; the image build is not run here)', () => {
  let tmp = '';
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dockerfile-'));
  });
  after(() => {
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('is multi-stage on node:20-bookworm-slim, builds with npm ci and prunes dev dependencies', () => {
    assert.equal(stages.length, 2);
    for (const s of stages) assert.equal(image(s.from), 'node:20-bookworm-slim');
    assert.equal(build.name, 'build');
    const runs = all(build, 'RUN').map((r) => r.args);
    assert.ok(runs.some((r) => /^npm ci\b/.test(r)));
    assert.ok(runs.some((r) => /npm prune --omit=dev/.test(r)));
  });

  it('runs as a non-root user, exposes 9814, has OCI labels, a HEALTHCHECK and the ENTRYPOINT', () => {
    const user = one(runtime, 'USER');
    assert.ok(!/^(root|0)(:|$)/.test(user), `USER ${user}`);
    assert.equal(one(runtime, 'EXPOSE'), '9814');
    const labels = all(runtime, 'LABEL')
      .map((l) => l.args)
      .join(' ');
    for (const k of ['title', 'description', 'licenses', 'version']) {
      assert.match(labels, new RegExp(`org\\.opencontainers\\.image\\.${k}=`), k);
    }
    assert.deepEqual(JSON.parse(one(runtime, 'ENTRYPOINT')), [
      'node',
      '--max-semi-space-size=16',
      '--expose-gc',
      '/app/dist/src/cli/main.js',
    ]);
    assert.match(one(runtime, 'HEALTHCHECK'), /CMD \[.*\/-\/healthy/);
    // As the bin's shebang: freed chunks of text go back to the system (src/cli/main.ts).
    assert.ok(
      all(runtime, 'ENV').some((e) => e.args === 'MALLOC_MMAP_THRESHOLD_=131072'),
      'ENV MALLOC_MMAP_THRESHOLD_',
    );
  });

  it('documents the socket mount and the group', () => {
    const text = fs.readFileSync(DOCKERFILE, 'utf8');
    assert.match(text, /-v \/var\/run\/charon\.vici:\/var\/run\/charon\.vici/);
    assert.match(text, /--group-add/);
  });

  it('every file it copies from the build context exists', () => {
    const copies = all(build, 'COPY').filter((c) => !c.args.startsWith('--from'));
    assert.ok(copies.length >= 2);
    for (const c of copies) {
      const parts = c.args.split(/\s+/);
      for (const src of parts.slice(0, -1)) assert.ok(fs.existsSync(path.join(ROOT, src)), src);
    }
  });

  it('its compile step, run as written, gives a runtime layout whose ENTRYPOINT starts', () => {
    // The build stage's context copy (WORKDIR /src), with the repository's node_modules in place of npm ci.
    const src = path.join(tmp, 'src');
    fs.mkdirSync(src);
    for (const c of all(build, 'COPY')) {
      const parts = c.args.split(/\s+/);
      for (const p of parts.slice(0, -1))
        fs.cpSync(path.join(ROOT, p), path.join(src, p), { recursive: true });
    }
    fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(src, 'node_modules'));
    const compile = all(build, 'RUN').find((r) => /\btsc\b/.test(r.args));
    assert.ok(compile, 'a RUN that compiles');
    const r = spawnSync('sh', ['-c', compile.args], { cwd: src, encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
    const built = fs.readdirSync(path.join(src, 'dist'), { recursive: true }).map(String);
    assert.ok(built.includes(path.join('src', 'cli', 'main.js')));
    assert.deepEqual(
      built.filter((f) => /\.test\.js$|\.map$/.test(f)),
      [],
      'no tests or source maps in the image',
    );

    // The runtime stage (WORKDIR /app) from its COPY --from=build lines; node_modules linked, not pruned.
    assert.equal(one(runtime, 'WORKDIR'), '/app');
    const app = path.join(tmp, 'app');
    fs.mkdirSync(app);
    for (const c of all(runtime, 'COPY')) {
      const m = /^--from=build\s+\/src\/(\S+)\s+(\S+)$/.exec(c.args);
      assert.ok(m, c.args);
      const to = path.join(app, m[2] as string);
      if (m[1] === 'node_modules') fs.symlinkSync(path.join(src, 'node_modules'), to);
      else fs.cpSync(path.join(src, m[1] as string), to, { recursive: true });
    }
    const entry = JSON.parse(one(runtime, 'ENTRYPOINT')) as string[];
    assert.equal(entry[0], 'node');
    const args = entry.slice(1).map((a) => a.replace(/^\/app\//, `${app}/`));
    const v = spawnSync(process.execPath, [...args, '--version'], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(v.status, 0, v.stderr);
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
    assert.match(v.stdout, new RegExp(`^strongswan_exporter ${pkg.version.replace(/\./g, '\\.')} `));
    const cmd = JSON.parse(one(runtime, 'CMD')) as string[];
    const h = spawnSync(process.execPath, [...args, ...cmd, '--help'], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(h.status, 0, `CMD ${cmd.join(' ')} is accepted: ${h.stderr}`);
  });

  it('its HEALTHCHECK command passes on a running exporter and fails on a stopped one', async () => {
    const hc = JSON.parse(one(runtime, 'HEALTHCHECK').replace(/^.*?CMD\s+/, '')) as string[];
    assert.equal(hc[0], 'node');
    const exporter = await startExporter(['--vici.address', 'unix:///nonexistent/charon.vici']);
    const port = new URL(exporter.url).port;
    const run = () =>
      spawnSync(
        process.execPath,
        hc.slice(1).map((a) => a.replace(':9814/', `:${port}/`)),
        {
          encoding: 'utf8',
          timeout: 15_000,
        },
      ).status;
    try {
      assert.equal(run(), 0);
    } finally {
      await exporter.stop();
    }
    assert.equal(run(), 1);
  });
});
