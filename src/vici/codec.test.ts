import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeMessage, encodeMessage } from './codec.js';
import { ViciEncodeError, ViciProtocolError } from './errors.js';
import { flag, isList, num, str, strList, subSections, type ViciSection } from './message.js';
import { encodePacket, PacketType, parsePacket } from './packet.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
/** Strip the 4-byte frame header and parse the packet. */
const packet = (s: string) => {
  const b = hex(s);
  assert.equal(b.readUInt32BE(0), b.length - 4, 'frame length in the vector');
  return parsePacket(b.subarray(4));
};
const plain = (s: ViciSection): unknown =>
  JSON.parse(JSON.stringify(s, (_k, v) => (v?.type === 'Buffer' ? Buffer.from(v.data).toString() : v)));

// Vectors built from the byte-level description of the protocol (research/vici-protocol.md §2.5).
describe('codec: hex vectors', () => {
  it('(a) CMD_REQUEST version with an empty message', () => {
    const v = '00 00 00 09 00 07 76 65 72 73 69 6f 6e';
    assert.deepEqual(encodePacket(PacketType.CMD_REQUEST, 'version'), hex(v));
    const p = packet(v);
    assert.equal(p.type, PacketType.CMD_REQUEST);
    assert.equal(p.name, 'version');
    assert.deepEqual(plain(decodeMessage(p.data, p.messageStart)), {});
  });

  it('(b) CMD_RESPONSE with two key/values', () => {
    const v = `00 00 00 21 01
      03 06 64 61 65 6d 6f 6e 00 06 63 68 61 72 6f 6e
      03 07 76 65 72 73 69 6f 6e 00 05 36 2e 30 2e 31`;
    const p = packet(v);
    assert.equal(p.type, PacketType.CMD_RESPONSE);
    assert.equal(p.name, undefined);
    const m = decodeMessage(p.data, p.messageStart);
    assert.deepEqual(Object.keys(m), ['daemon', 'version']);
    assert.equal(str(m.daemon), 'charon');
    assert.equal(str(m.version), '6.0.1');
    assert.deepEqual(encodeMessage({ daemon: 'charon', version: '6.0.1' }), p.data.subarray(1));
  });

  it('(c) registration packets and one-byte replies', () => {
    assert.deepEqual(
      encodePacket(PacketType.EVENT_REGISTER, 'list-sa'),
      hex('00 00 00 09 03 07 6c 69 73 74 2d 73 61'),
    );
    assert.deepEqual(
      encodePacket(PacketType.EVENT_UNREGISTER, 'list-sa'),
      hex('00 00 00 09 04 07 6c 69 73 74 2d 73 61'),
    );
    for (const [bytes, type] of [
      ['00 00 00 01 05', PacketType.EVENT_CONFIRM],
      ['00 00 00 01 06', PacketType.EVENT_UNKNOWN],
      ['00 00 00 01 02', PacketType.CMD_UNKNOWN],
      ['00 00 00 01 01', PacketType.CMD_RESPONSE],
    ] as const) {
      const p = packet(bytes);
      assert.equal(p.type, type);
      assert.equal(p.messageStart, 1);
      assert.deepEqual(plain(decodeMessage(p.data, p.messageStart)), {});
    }
  });

  it('(d) CMD_REQUEST list-sas with noblock', () => {
    const v = `00 00 00 18 00 08 6c 69 73 74 2d 73 61 73
      03 07 6e 6f 62 6c 6f 63 6b 00 03 79 65 73`;
    assert.deepEqual(encodePacket(PacketType.CMD_REQUEST, 'list-sas', { noblock: 'yes' }), hex(v));
    assert.deepEqual(encodePacket(PacketType.CMD_REQUEST, 'list-sas', { noblock: true }), hex(v));
  });

  it('(e) EVENT list-sa with nested sections', () => {
    const v = `00 00 00 51 07 07 6c 69 73 74 2d 73 61
      01 02 67 77
      03 08 75 6e 69 71 75 65 69 64 00 01 31
      03 05 73 74 61 74 65 00 0b 45 53 54 41 42 4c 49 53 48 45 44
      01 09 63 68 69 6c 64 2d 73 61 73
      01 05 6e 65 74 2d 32
      03 08 62 79 74 65 73 2d 69 6e 00 02 38 34
      02 02 02`;
    const p = packet(v);
    assert.equal(p.type, PacketType.EVENT);
    assert.equal(p.name, 'list-sa');
    const m = decodeMessage(p.data, p.messageStart);
    assert.deepEqual(plain(m), {
      gw: { uniqueid: '1', state: 'ESTABLISHED', 'child-sas': { 'net-2': { 'bytes-in': '84' } } },
    });
    assert.equal(num((m.gw as ViciSection).uniqueid), 1);
    assert.deepEqual(
      encodeMessage({
        gw: { uniqueid: 1, state: 'ESTABLISHED', 'child-sas': { 'net-2': { 'bytes-in': 84n } } },
      }),
      p.data.subarray(p.messageStart),
    );
  });

  it('(f) EVENT ike-updown: key before a section', () => {
    const v = `00 00 00 3b 07 0a 69 6b 65 2d 75 70 64 6f 77 6e
      03 02 75 70 00 03 79 65 73
      01 02 67 77
      03 08 75 6e 69 71 75 65 69 64 00 01 37
      03 05 73 74 61 74 65 00 0b 45 53 54 41 42 4c 49 53 48 45 44
      02`;
    const p = packet(v);
    const m = decodeMessage(p.data, p.messageStart);
    assert.equal(p.name, 'ike-updown');
    assert.equal(flag(m.up), true);
    assert.equal(str((m.gw as ViciSection).uniqueid), '7');
  });

  it('(g) get-counters: the global section has an empty name', () => {
    const v = `00 00 00 2d 01
      01 08 63 6f 75 6e 74 65 72 73
      01 00
      03 0b 63 68 69 6c 64 2d 72 65 6b 65 79 00 01 33
      02 02
      03 07 73 75 63 63 65 73 73 00 03 79 65 73`;
    const p = packet(v);
    const m = decodeMessage(p.data, p.messageStart);
    const counters = m.counters as ViciSection;
    assert.deepEqual(Object.keys(counters), ['']);
    assert.equal(str((counters[''] as ViciSection)['child-rekey']), '3');
    assert.deepEqual(
      encodeMessage({ counters: { '': { 'child-rekey': '3' } }, success: 'yes' }),
      p.data.subarray(1),
    );
  });

  it('(h) a list', () => {
    const v = `00 00 00 2a 00 01 78
      04 08 6c 6f 63 61 6c 2d 74 73
      05 00 0b 31 30 2e 30 2e 30 2e 30 2f 32 34
      05 00 0b 31 30 2e 31 2e 30 2e 30 2f 31 36
      06`;
    const msg = { 'local-ts': ['10.0.0.0/24', '10.1.0.0/16'] };
    assert.deepEqual(encodePacket(PacketType.CMD_REQUEST, 'x', msg), hex(v));
    const p = packet(v);
    const m = decodeMessage(p.data, p.messageStart);
    assert.ok(isList(m['local-ts']));
    assert.deepEqual(strList(m['local-ts']), msg['local-ts']);
  });

  it('(i) get-pools request and a response with leases', () => {
    const req = `00 00 00 22 00 09 67 65 74 2d 70 6f 6f 6c 73
      03 06 6c 65 61 73 65 73 00 03 79 65 73
      03 04 6e 61 6d 65 00 02 72 77`;
    assert.deepEqual(
      encodePacket(PacketType.CMD_REQUEST, 'get-pools', { leases: true, name: 'rw' }),
      hex(req),
    );
    const res = `00 00 00 79 01
      01 02 72 77
      03 04 62 61 73 65 00 08 31 30 2e 33 2e 30 2e 31
      03 04 73 69 7a 65 00 03 32 35 34
      03 06 6f 6e 6c 69 6e 65 00 01 31
      03 07 6f 66 66 6c 69 6e 65 00 01 30
      01 06 6c 65 61 73 65 73
      01 01 30
      03 07 61 64 64 72 65 73 73 00 08 31 30 2e 33 2e 30 2e 31
      03 08 69 64 65 6e 74 69 74 79 00 05 63 61 72 6f 6c
      03 06 73 74 61 74 75 73 00 06 6f 6e 6c 69 6e 65
      02 02 02`;
    const p = packet(res);
    const m = decodeMessage(p.data, p.messageStart);
    assert.deepEqual(plain(m), {
      rw: {
        base: '10.3.0.1',
        size: '254',
        online: '1',
        offline: '0',
        leases: { '0': { address: '10.3.0.1', identity: 'carol', status: 'online' } },
      },
    });
  });

  it('(j) list-cert: binary DER stays a Buffer, even in text mode', () => {
    const v = `00 00 00 2d 07 09 6c 69 73 74 2d 63 65 72 74
      03 04 74 79 70 65 00 04 58 35 30 39
      03 04 66 6c 61 67 00 02 43 41
      03 04 64 61 74 61 00 04 30 82 01 0a`;
    const p = packet(v);
    const m = decodeMessage(p.data, p.messageStart);
    assert.deepEqual(m.data, hex('3082010a'));
    const t = decodeMessage(p.data, p.messageStart, p.data.length, {
      text: true,
      binaryKeys: new Set(['data']),
    });
    assert.equal(t.type, 'X509');
    assert.ok(Buffer.isBuffer(t.data));
    assert.deepEqual(t.data, hex('3082010a'));
  });
});

describe('codec: structure', () => {
  it('keeps empty lists, empty sections and empty values', () => {
    const bytes = encodeMessage({ 'child-sas': {}, groups: [], v: '' });
    assert.deepEqual(
      bytes,
      hex('01 09 63 68 69 6c 64 2d 73 61 73 02  04 06 67 72 6f 75 70 73 06  03 01 76 00 00'),
    );
    const m = decodeMessage(bytes);
    assert.deepEqual(Object.keys(m['child-sas'] as ViciSection), []);
    assert.deepEqual(m.groups, []);
    assert.deepEqual(m.v, Buffer.alloc(0));
  });

  it('keeps every occurrence of a repeated section name (charon < 5.5.2 children)', () => {
    const bytes = encodeMessage({ 'child-sas': { net: [{ uniqueid: '1' }, { uniqueid: '2' }] } });
    const m = decodeMessage(bytes, 0, bytes.length, { text: true });
    const children = subSections(m['child-sas']);
    assert.deepEqual(
      children.map(([n, s]) => [n, s.uniqueid]),
      [
        ['net', '1'],
        ['net', '2'],
      ],
    );
  });

  it('decodes names leniently and safely (no prototype pollution)', () => {
    const bytes = encodeMessage({ __proto__x: 'a', Zürich: { constructor: 'b' } });
    const m = decodeMessage(bytes, 0, bytes.length, { text: true });
    assert.equal((m.Zürich as ViciSection).constructor, 'b');
    const evil = Buffer.concat([hex('01 09'), Buffer.from('__proto__'), hex('03 01 78 00 01 31 02')]);
    const e = decodeMessage(evil, 0, evil.length, { text: true });
    assert.equal(({} as Record<string, unknown>).x, undefined);
    const proto = Object.getOwnPropertyDescriptor(e, '__proto__') as PropertyDescriptor;
    assert.equal((proto.value as ViciSection).x, '1');
  });

  it('round-trips 64 KiB values and 255-byte names, refuses bigger ones', () => {
    const name = 'n'.repeat(255);
    const value = Buffer.alloc(65_535, 0xab);
    const m = decodeMessage(encodeMessage({ [name]: value }));
    assert.deepEqual(m[name], value);
    assert.throws(() => encodeMessage({ ['n'.repeat(256)]: 'x' }), ViciEncodeError);
    assert.throws(() => encodeMessage({ x: Buffer.alloc(65_536) }), ViciEncodeError);
  });

  const bad: [string, string][] = [
    ['section end at root', '02'],
    ['unclosed section', '01 01 61'],
    ['unclosed list', '04 01 61 05 00 01 78'],
    ['list item outside a list', '05 00 01 78'],
    ['list end outside a list', '06'],
    ['key/value inside a list', '04 01 61 03 01 62 00 00 06'],
    ['section inside a list', '04 01 61 01 01 62 02 06'],
    ['unknown element 0', '00'],
    ['unknown element 7', '07'],
    ['name past the end', '03 05 61'],
    ['value length truncated', '03 01 61 00'],
    ['value past the end', '03 01 61 00 05 78'],
    ['missing name length', '01'],
  ];
  for (const [what, bytes] of bad) {
    it(`rejects ${what} with ViciProtocolError`, () => {
      assert.throws(() => decodeMessage(hex(bytes)), ViciProtocolError);
    });
  }
});
