import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ViciConnectError } from './errors.js';
import { connectSocket, formatAddress, parseAddress } from './transport.js';

describe('addresses', () => {
  it('parses unix URIs, bare paths and tcp URIs', () => {
    assert.deepEqual(parseAddress('unix:///var/run/charon.vici'), {
      kind: 'unix',
      path: '/var/run/charon.vici',
    });
    assert.deepEqual(parseAddress('/run/x.vici'), { kind: 'unix', path: '/run/x.vici' });
    assert.deepEqual(parseAddress('tcp://127.0.0.1:4502'), { kind: 'tcp', host: '127.0.0.1', port: 4502 });
    assert.deepEqual(parseAddress('tcp://[::1]:4502'), { kind: 'tcp', host: '::1', port: 4502 });
    assert.deepEqual(parseAddress('tcp://gw.example:4502'), { kind: 'tcp', host: 'gw.example', port: 4502 });
    assert.equal(formatAddress(parseAddress('tcp://[::1]:4502')), 'tcp://[::1]:4502');
  });
  for (const bad of [
    '',
    'unix://',
    'tcp://host',
    'tcp://host:0',
    'tcp://host:70000',
    'http://x:1',
    'tcp://::1:4502',
  ]) {
    it(`refuses "${bad}"`, () => assert.throws(() => parseAddress(bad), /invalid VICI address/));
  }
  it('connect errors are ViciConnectError with a readable reason', async () => {
    await assert.rejects(connectSocket(parseAddress('/nonexistent/charon.vici'), 1000), (e: unknown) => {
      assert.ok(e instanceof ViciConnectError);
      assert.match(e.message, /no such socket/);
      return true;
    });
  });
});
