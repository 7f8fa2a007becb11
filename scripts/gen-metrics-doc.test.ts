import assert from 'node:assert/strict';
import fs from 'node:fs';
import { describe, it } from 'node:test';
import { ALL_FAMILIES } from '../src/metrics/families.js';
import { README, renderMetricsDoc, spliceReadme } from './gen-metrics-doc.js';

describe('README metrics tables', () => {
  it('are the ones generated from the family definitions (run `npm run docs` after a change)', () => {
    const readme = fs.readFileSync(README, 'utf8');
    assert.equal(readme, spliceReadme(readme));
  });
  it('name every family once', () => {
    const doc = renderMetricsDoc();
    const rows = doc.split('\n');
    for (const f of ALL_FAMILIES)
      assert.equal(rows.filter((r) => r.startsWith(`| \`${f.name}\` |`)).length, 1, f.name);
  });
});
