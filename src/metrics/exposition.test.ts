import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Exposition, escapeLabelValue, formatValue, isDecimal, renderLabels } from './exposition.js';
import { F } from './families.js';

describe('exposition', () => {
  it('escapes label values', () => {
    assert.equal(escapeLabelValue('plain'), 'plain');
    assert.equal(escapeLabelValue('a"b\\c\nd'), 'a\\"b\\\\c\\nd');
    assert.equal(renderLabels(['a', 'b'], ['x"', 'y']), 'a="x\\"",b="y"');
  });

  it('formats special values', () => {
    assert.equal(formatValue(Number.NaN), 'NaN');
    assert.equal(formatValue(Number.POSITIVE_INFINITY), '+Inf');
    assert.equal(formatValue(Number.NEGATIVE_INFINITY), '-Inf');
    assert.equal(formatValue(1.5), '1.5');
    assert.ok(isDecimal('18446744073709551615'));
    assert.ok(!isDecimal('1e3') && !isDecimal('') && !isDecimal(undefined) && !isDecimal('12 '));
  });

  it('groups samples by family in definition order, HELP and TYPE once', () => {
    const e = new Exposition();
    e.sample(F.connUp, 'conn="a"', 1);
    e.sample(F.up, '', 1);
    e.sample(F.connUp, 'conn="b"', 0);
    assert.equal(
      e.text(),
      `# HELP strongswan_up ${F.up.help}\n# TYPE strongswan_up gauge\nstrongswan_up 1\n` +
        `# HELP strongswan_conn_up ${F.connUp.help}\n# TYPE strongswan_conn_up gauge\n` +
        'strongswan_conn_up{conn="a"} 1\nstrongswan_conn_up{conn="b"} 0\n',
    );
    assert.equal(e.samples, 3);
  });

  it('names counter families without _total in OpenMetrics', () => {
    const e = new Exposition();
    e.sample(F.childSaBytes, 'conn="a",direction="in"', '42');
    assert.match(
      e.text('openmetrics'),
      /^# HELP strongswan_child_sa_bytes .*\n# TYPE strongswan_child_sa_bytes counter\nstrongswan_child_sa_bytes_total\{conn="a",direction="in"\} 42\n$/,
    );
    assert.match(e.text('prometheus'), /# TYPE strongswan_child_sa_bytes_total counter\n/);
  });
});
