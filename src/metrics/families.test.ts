import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { COLLECTORS } from '../collectors/registry.js';
import { ALL_FAMILIES, F } from './families.js';

// Rules the seed's names break, on purpose: the seed-compatible set keeps them exactly.
const SEED_EXEMPT = new Set(['_second suffix', 'camelCase label']);

describe('metric families', () => {
  it('know their place in the definition order', () => {
    assert.deepEqual(
      ALL_FAMILIES.map((f) => f.ordinal),
      ALL_FAMILIES.map((_, i) => i),
    );
  });

  it('are unique', () => {
    const names = ALL_FAMILIES.map((f) => f.name);
    assert.deepEqual(
      names.filter((n, i) => names.indexOf(n) !== i),
      [],
    );
  });

  for (const f of ALL_FAMILIES) {
    it(`${f.name} follows the naming rules`, () => {
      assert.match(f.name, /^strongswan_[a-z0-9_]+$/);
      assert.ok(f.help.endsWith('.'), 'help ends with a period');
      assert.ok(new Set(f.labels).size === f.labels.length, 'labels unique');
      for (const l of f.labels) {
        if (f.set === 'seed' && (l === 'localTS' || l === 'remoteTS')) continue;
        assert.match(l, /^[a-z][a-z0-9_]*$/, `label ${l} is snake_case`);
      }
      if (f.set === 'seed') {
        assert.ok(
          f.standard && ALL_FAMILIES.some((s) => s.name === f.standard),
          `${f.name} maps to a standard family`,
        );
        assert.ok(SEED_EXEMPT.size > 0);
        return;
      }
      assert.equal(f.name.endsWith('_total'), f.type === 'counter', '_total if and only if counter');
      assert.ok(!/_second$/.test(f.name), 'base unit is seconds');
      if (f.name.endsWith('_info')) assert.equal(f.type, 'gauge');
    });
  }

  it('belong to a registered collector (or the exporter itself)', () => {
    const names = new Set(['exporter', ...COLLECTORS.map((c) => c.name)]);
    for (const f of ALL_FAMILIES) assert.ok(names.has(f.collector), `${f.name}: collector ${f.collector}`);
  });

  it('keep the seed names exactly', () => {
    const seed = ALL_FAMILIES.filter((f) => f.set === 'seed').map((f) => f.name);
    assert.equal(seed.length, 26);
    assert.deepEqual(F.seedSaBytesIn.labels, [
      'ike_name',
      'ike_id',
      'child_name',
      'child_id',
      'localTS',
      'remoteTS',
    ]);
    assert.deepEqual(F.seedIkeEncKeysize.labels, ['name', 'uniqueid', 'algorithm', 'dh_group']);
  });

  it('are spelled out only in families.ts', () => {
    const src = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../src');
    const offenders: string[] = [];
    const walk = (dir: string) => {
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else if (p.endsWith('.ts') && !p.endsWith('.test.ts') && !p.endsWith('families.ts')) {
          if (/['"`]strongswan_[a-z_]+['"`]/.test(fs.readFileSync(p, 'utf8'))) offenders.push(p);
        }
      }
    };
    walk(src);
    assert.deepEqual(offenders, []);
  });
});
