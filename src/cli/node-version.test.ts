import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { MIN_NODE, nodeTooOld } from './node-version.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CLI = fileURLToPath(new URL('./main.js', import.meta.url));

describe('Node.js version', () => {
  it('refuses what is older than the minimum, takes the minimum and newer', () => {
    for (const v of ['18.19.1', '20.14.0', '20.0.0', 'v20.14.9', '19.99.99']) {
      assert.equal(nodeTooOld(v), `needs Node.js ${MIN_NODE} or later, this is ${v}`, v);
    }
    for (const v of ['20.15.0', '20.19.2', 'v20.20.2', '22.0.0', '24.22.2', '20.15.0-pre']) {
      assert.equal(nodeTooOld(v), undefined, v);
    }
  });

  it('package.json engines and the set-up script ask for the same minimum', () => {
    const pkg = JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')) as { engines: { node: string } };
    assert.equal(pkg.engines.node, `>=${MIN_NODE}`);
    const setup = readFileSync(`${ROOT}scripts/setup.sh`, 'utf8');
    assert.equal(/^NODE_MIN=(\S+)$/m.exec(setup)?.[1], MIN_NODE.replace(/\.0$/, ''));
  });

  it('the exporter refuses an older Node at start: one line, exit 1, before serving', () => {
    // This Node, claiming to be 20.14.0 from the first line on.
    const claim = `data:text/javascript,Object.defineProperty(process,"versions",{value:{...process.versions,node:"20.14.0"}})`;
    const r = spawnSync(process.execPath, ['--import', claim, CLI, '--web.listen-address', '127.0.0.1:0'], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    assert.equal(r.status, 1);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, `strongswan_exporter: needs Node.js ${MIN_NODE} or later, this is 20.14.0\n`);
  });
});
