import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseDuration } from './duration.js';

describe('parseDuration', () => {
  it('reads Prometheus-style durations and bare seconds', () => {
    const cases: [string, number][] = [
      ['5s', 5000],
      ['500ms', 500],
      ['1m30s', 90_000],
      ['2h', 7_200_000],
      ['1d2h3m4s5ms', 93_784_005],
      ['1.5s', 1500],
      ['10', 10_000],
      [' 3s ', 3000],
    ];
    for (const [text, ms] of cases) assert.equal(parseDuration(text), ms, text);
  });

  it('refuses units out of order or twice, unknown units and leftovers', () => {
    for (const text of ['30s1m', '1s1s', '1ms1s', '5m5m', '', 's', '5x', '5s ms', '-1s', '1h 2m', '5sec'])
      assert.throws(() => parseDuration(text), /invalid duration/, text);
  });
});
