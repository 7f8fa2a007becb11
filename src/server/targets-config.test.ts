import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseTargetsConfig, TargetsConfigError } from './targets-config.js';

describe('targets config', () => {
  it('reads named targets with their address and timeout', () => {
    const t = parseTargetsConfig(
      'targets:\n  gw1: {address: "unix:///run/gw1/charon.vici", timeout: 2s}\n  gw2:\n    address: tcp://127.0.0.1:4502\n',
      5000,
    );
    assert.deepEqual(
      [...t.values()],
      [
        { name: 'gw1', address: 'unix:///run/gw1/charon.vici', timeoutMs: 2000 },
        { name: 'gw2', address: 'tcp://127.0.0.1:4502', timeoutMs: 5000 },
      ],
    );
  });
  const bad: [string, string, RegExp][] = [
    ['unknown key', 'targets: {}\nmodules: {}\n', /unknown key "modules"/],
    ['no targets mapping', 'targets: [a]\n', /targets: must be a mapping/],
    ['bad name', 'targets:\n  "a b": {address: /x}\n', /names are/],
    ['missing address', 'targets:\n  gw1: {timeout: 1s}\n', /gw1.address: required/],
    ['bad address', 'targets:\n  gw1: {address: "http://x"}\n', /scheme must be/],
    ['unknown target key', 'targets:\n  gw1: {address: /x, user: root}\n', /unknown key "user"/],
    ['bad timeout', 'targets:\n  gw1: {address: /x, timeout: fast}\n', /gw1.timeout/],
  ];
  for (const [what, text, re] of bad) {
    it(`refuses ${what}`, () =>
      assert.throws(
        () => parseTargetsConfig(text, 5000),
        (e: unknown) => e instanceof TargetsConfigError && re.test(e.message),
      ));
  }
});
