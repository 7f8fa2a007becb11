import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { COLLECTORS } from '../collectors/registry.js';
import { parseFlags, parseListenAddress, UsageError, usage } from './flags.js';

const parse = (...argv: string[]) => parseFlags(argv, COLLECTORS);
const names = (argv: string[]) => parse(...argv).collectors.map((c) => c.name);

describe('flags', () => {
  it('has the seed contract as defaults: port 9814, the socket, /metrics, 5s', () => {
    const c = parse();
    assert.deepEqual(c.listen, [{ host: undefined, port: 9814 }]);
    assert.equal(c.viciAddress, 'unix:///var/run/charon.vici');
    assert.equal(c.viciAddressSet, false);
    assert.equal(c.viciTimeoutMs, 5000);
    assert.equal(c.telemetryPath, '/metrics');
    assert.deepEqual(
      names([]),
      COLLECTORS.filter((c) => c.defaultEnabled).map((c) => c.name),
    );
  });

  it('takes both --flag value and --flag=value, repeated listen addresses, and the last collector toggle', () => {
    const c = parse(
      '--vici.address=tcp://127.0.0.1:4502',
      '--vici.timeout',
      '1m30s',
      '--web.listen-address',
      '127.0.0.1:9814',
      '--web.listen-address=[::1]:9815',
    );
    assert.equal(c.viciAddress, 'tcp://127.0.0.1:4502');
    assert.equal(c.viciAddressSet, true);
    assert.equal(c.viciTimeoutMs, 90_000);
    assert.deepEqual(c.listen, [
      { host: '127.0.0.1', port: 9814 },
      { host: '::1', port: 9815 },
    ]);
    assert.ok(!names(['--no-collector.certs']).includes('certs'));
    assert.ok(names(['--no-collector.certs', '--collector.certs']).includes('certs'));
    assert.ok(!names(['--collector.certs', '--no-collector.certs']).includes('certs'));
  });

  it('refuses bad input with one UsageError line (exit 2)', () => {
    const bad: [string[], RegExp][] = [
      [['--bogus'], /Unknown option '--bogus'/],
      [['--vici.timeout', '30s1m'], /--vici.timeout: invalid duration/],
      [['--vici.timeout', '0s'], /must be positive/],
      [['--vici.address', 'http://x'], /--vici.address/],
      [['--web.listen-address', '9814'], /invalid --web.listen-address "9814"/],
      [['--web.listen-address', ':70000'], /invalid --web.listen-address/],
      [['--web.telemetry-path', '/-/healthy'], /invalid --web.telemetry-path/],
      [['--web.telemetry-path', 'metrics'], /invalid --web.telemetry-path/],
      [['--log.level', 'chatty'], /invalid --log.level "chatty"/],
      [['--log.format', 'xml'], /invalid --log.format/],
      [['--web.config.file='], /needs a file name/],
      [['--collector.events.state-directory', '/nonexistent/dir'], /ENOENT/],
    ];
    for (const [argv, re] of bad) {
      assert.throws(
        () => parse(...argv),
        (err: unknown) =>
          err instanceof UsageError &&
          err.exitCode === 2 &&
          re.test(err.message) &&
          !err.message.includes('\n'),
        argv.join(' '),
      );
    }
  });

  it('takes a state directory that exists and is writable, and nothing else', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flags-'));
    try {
      assert.equal(parse('--collector.events.state-directory', dir).eventsStateDirectory, dir);
      const file = path.join(dir, 'f');
      fs.writeFileSync(file, '');
      assert.throws(() => parse('--collector.events.state-directory', file), /not a directory/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('parses listen addresses as host:port, [v6]:port or :port', () => {
    assert.deepEqual(parseListenAddress(':9814'), { host: undefined, port: 9814 });
    assert.deepEqual(parseListenAddress('[::]:1'), { host: '::', port: 1 });
    assert.deepEqual(parseListenAddress('localhost:0'), { host: 'localhost', port: 0 });
  });

  it('documents every flag it takes, each on a line of its own', () => {
    const text = usage(COLLECTORS);
    for (const flag of [
      '--vici.address',
      '--web.listen-address',
      '--collector.events.state-directory',
      '--collector.users.max-users',
      '--collector.users.forget-after',
    ])
      assert.match(text, new RegExp(`^  ${flag.replace(/\./g, '\\.')}`, 'm'));
    // the flag column is wide enough: no flag runs into its help text (the longest: two spaces)
    assert.match(text, /--collector\.users\.forget-after=DURATION {2}The users/);
    for (const line of text.split('\n').filter((l) => l.startsWith('  --')))
      assert.match(line, /^ {2}\S+(?: \S+)* {2,}\S/, line);
  });

  it('bounds the users collector: max-users a whole number, forget-after a duration', () => {
    const o = parse('--collector.users.max-users', '500', '--collector.users.forget-after', '2h').options;
    assert.equal(o.maxUsers, 500);
    assert.equal(o.usersForgetAfterMs, 7_200_000);
    assert.equal(parse().options.maxUsers, 20_000);
    assert.equal(parse().options.usersForgetAfterMs, 86_400_000);
    for (const bad of [
      ['--collector.users.max-users', '0'],
      ['--collector.users.max-users', '1.5'],
      ['--collector.users.max-users', 'x'],
      ['--collector.users.forget-after', '0s'],
      ['--collector.users.forget-after', 'soon'],
    ])
      assert.throws(() => parse(...bad), /--collector\.users\./, bad.join(' '));
  });
});
