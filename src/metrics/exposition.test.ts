import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import zlib from 'node:zlib';
import fc from 'fast-check';
import { gzipParts, plainParts } from '../server/gzip.js';
import {
  Exposition,
  escapeLabelValue,
  formatValue,
  freeChunks,
  isDecimal,
  LabelStore,
  labelBytes,
  labelBytesOf,
  renderLabels,
} from './exposition.js';
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

  it('writes bytes exactly as the string form would, across chunk boundaries', () => {
    // The reference: each line as a string, as the text format defines it.
    const value = fc.oneof(
      fc.integer({ min: -(2 ** 53) + 1, max: 2 ** 53 - 1 }),
      fc.double(),
      fc.constantFrom(0, -0, 2 ** 53, 1e21, 0.1, Number.NaN, Number.POSITIVE_INFINITY),
      fc.stringMatching(/^-?[0-9]{1,23}$/),
      fc.constantFrom('18446744073709551615', '-', '', '1e3', '12 ', '0x1', '+1', '1'.repeat(24)),
    );
    const labels = fc.oneof(
      fc.string({ maxLength: 40 }),
      fc.string({ unit: 'grapheme', maxLength: 20 }),
      fc.string({ maxLength: 3 }).map((t) => `${'x'.repeat(70_000)}\u00e9${t}`),
    );
    const sample = fc.record({
      family: fc.constantFrom(F.connUp, F.childSaBytes, F.ikeSaState),
      labels,
      suffix: fc.constantFrom('', ',direction="in"'),
      value,
      bytes: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(sample, { maxLength: 60 }), (xs) => {
        const e = new Exposition();
        const want = new Map<string, string>();
        for (const x of xs) {
          const l = `a="${escapeLabelValue(x.labels)}"`;
          let line: string | null;
          if (x.bytes) {
            const decimal = typeof x.value === 'string' && isDecimal(x.value);
            const wrote = e.put(
              x.family,
              labelBytes(l),
              x.suffix === '' ? null : labelBytes(x.suffix),
              x.value,
            );
            assert.equal(wrote, typeof x.value === 'number' || decimal);
            line = wrote
              ? `${x.family.name}{${l}${x.suffix}} ${typeof x.value === 'number' ? formatValue(x.value) : x.value}\n`
              : null;
          } else {
            if (typeof x.value === 'string' && !isDecimal(x.value)) continue;
            e.sample(x.family, `${l}${x.suffix}`, x.value);
            line = `${x.family.name}{${l}${x.suffix}} ${typeof x.value === 'number' ? formatValue(x.value) : x.value}\n`;
          }
          if (line !== null) want.set(x.family.name, (want.get(x.family.name) ?? '') + line);
        }
        const got = e.text();
        for (const [name, lines] of want) {
          const start = got.indexOf(`# TYPE ${name} `);
          assert.ok(start >= 0, name);
          const body = got.slice(got.indexOf('\n', start) + 1);
          assert.ok(body.startsWith(lines), `${name}: lines differ`);
        }
        assert.equal(e.samples, [...want.values()].join('').split('\n').length - 1);
      }),
      { numRuns: 200, seed: 20261128 },
    );
  });
});

describe('labelBytesOf', () => {
  it('hands out the same bytes for a value, for at most `keep` values', () => {
    const suffix = labelBytesOf((v) => `,state="${v}"`, 2);
    const a = suffix('A');
    assert.equal(a.toString(), ',state="A"');
    assert.equal(suffix('A'), a, 'the same Buffer again');
    suffix('B');
    const c = suffix('C');
    assert.equal(c.toString(), ',state="C"');
    assert.notEqual(suffix('C'), c, 'past keep: made per call');
    assert.equal(suffix('B'), suffix('B'));
  });
});

describe('LabelStore', () => {
  it('keeps label sets by number across its growth, and writes them as put does', () => {
    const store = new LabelStore();
    const want = new Exposition();
    const got = new Exposition();
    const suffix = labelBytes(',direction="in"');
    for (let i = 0; i < 5000; i++) {
      const labels = renderLabels(['conn', 'child'], [`gw-${i}-${'ü€'.repeat(i % 5)}`, `net-${i % 7}`]);
      assert.equal(store.add(labels), i);
      want.put(F.connChildBytes, labelBytes(labels), i % 2 === 0 ? suffix : null, i * 7);
    }
    assert.equal(store.size, 5000);
    for (let i = 0; i < 5000; i++) store.put(got, F.connChildBytes, i, i % 2 === 0 ? suffix : null, i * 7);
    assert.equal(got.text(), want.text());
  });
});

describe('a deflating exposition (a scrape for a gzip client)', () => {
  /** What two collectors and the scrape itself write: big families (several 256 KiB chunks), small ones. */
  function scrape(deflate: boolean): Exposition {
    const out = new Exposition(deflate);
    for (const seed of [7, 13]) {
      const mine = new Exposition(deflate);
      for (let i = 0; i < 12_000; i++) {
        const l = labelBytes(renderLabels(['conn', 'ike_id'], [`gw-${(i * seed) % 997}-ü"\\`, String(i)]));
        mine.put(F.childSaBytes, l, labelBytes(',direction="in"'), String(i * seed * 1_000_003));
        mine.put(F.ikeSaEstablished, l, null, i / seed);
        if (i % 1000 === 0) mine.sample(F.connUp, `conn="c${i}"`, 1);
      }
      mine.sample(F.up, '', seed);
      out.absorb(mine);
    }
    out.sample(F.collectorSuccess, 'collector="x"', 1);
    return out;
  }

  it('gives the text of a plain one, deflated while written, to gzip and to plain clients', async () => {
    for (const format of ['prometheus', 'openmetrics'] as const) {
      const want = scrape(false).text(format);
      assert.ok(want.length > 2_000_000, `${want.length} bytes: several full-size chunks per family`);
      const e = scrape(true);
      assert.throws(() => e.render(format), /deflating/);
      const parts = await e.parts(format);
      assert.ok(
        parts.some((p) => !Buffer.isBuffer(p)),
        'big families are deflated runs',
      );
      assert.equal(zlib.gunzipSync(Buffer.concat(await gzipParts(parts))).toString('utf8'), want);
      assert.equal(Buffer.concat(await plainParts(parts)).toString('utf8'), want);
      assert.equal(e.samples, scrape(false).samples);
    }
  });

  it('hands its chunks back as they are deflated, and its deflated runs on recycle', async () => {
    const e = scrape(true);
    const parts = await e.parts();
    const duringScrape = freeChunks();
    assert.ok(duringScrape > 0, 'chunks came back while the exposition was still alive');
    const before = Buffer.concat(await plainParts(parts));
    e.recycle();
    assert.ok(freeChunks() > duringScrape, 'the chunks holding the deflated runs come back on recycle');
    // what the parts held is not overwritten by recycling alone ...
    assert.deepEqual(Buffer.concat(await plainParts(parts)), before);
    // ... but by the next scrape, which takes the chunks: a part must not outlive its exposition's
    // holds (server/target.ts), and this is what happens when one does
    const next = new Exposition(true);
    for (let i = 0; i < 30_000; i++) next.sample(F.connUp, `conn="other-${i}"`, i);
    await next.parts();
    const after = await plainParts(parts).then(
      (p) => Buffer.concat(p),
      (err: Error) => err.message, // a deflated run overwritten no longer inflates
    );
    assert.notDeepEqual(after, before);
    next.recycle();
  });
});

describe('lines by reference (a plain scrape, see Exposition: dict)', () => {
  /** What three collectors and the scrape write, into expositions sharing `dict` (or as text). */
  function scrape(dict: LabelStore | undefined, store: LabelStore): Exposition {
    const out = new Exposition(false, dict);
    const dir = [labelBytes(',direction="in"'), labelBytes(',direction="out"')];
    for (const seed of [7, 13]) {
      const mine = new Exposition(false, dict);
      for (let i = 0; i < 40_000; i++) {
        const l = labelBytes(renderLabels(['conn', 'ike_id'], [`gw-${(i * seed) % 997}-ü"\\`, String(i)]));
        const c = labelBytes(renderLabels(['conn', 'child'], [`gw-${i}`, `net-${i % 3}`]));
        mine.put(F.childSaBytes, l, dir[i % 2] as Buffer, String(i * seed * 1_000_003));
        mine.put(F.childSaPackets, c, dir[(i + 1) % 2] as Buffer, -i);
        mine.put(F.ikeSaEstablished, l, null, i / seed);
        // A suffix made per line, and values that are not written (false, nothing kept).
        mine.put(F.connChildUp, c, labelBytes(`,x="${i}"`), i % 2);
        assert.equal(mine.put(F.ikeSaRekey, l, null, i % 5 === 0 ? '1e3' : String(i)), i % 5 !== 0);
        // Lines as text among lines by reference, in one family.
        if (i % 1000 === 0) mine.sample(F.childSaBytes, `conn="t${i}",direction="in"`, i);
      }
      mine.sample(F.up, '', seed);
      out.absorb(mine);
    }
    // Label sets kept across scrapes (the events collector's), and one line longer than a chunk.
    for (let i = 0; i < store.size; i++) store.put(out, F.connChildBytes, i, null, i);
    out.put(F.connInfo, labelBytes(`conn="${'x'.repeat(300_000)}"`), null, 1);
    out.sample(F.collectorSuccess, 'collector="x"', 1);
    return out;
  }

  it('gives the text that lines written as text make, whole or piece by piece', () => {
    const store = new LabelStore();
    for (let i = 0; i < 3000; i++) store.add(`conn="s${i}",child="€${i % 9}"`);
    const want = scrape(undefined, store).text();
    const dict = new LabelStore();
    const e = scrape(dict, store);
    // More than 2^16 label sets: the reference's third byte is used.
    assert.ok(dict.size > 1 << 17, `${dict.size} label sets`);
    assert.equal(e.samples, scrape(undefined, store).samples);
    for (const format of ['prometheus', 'openmetrics'] as const) {
      const text = format === 'prometheus' ? want : scrape(undefined, store).text(format);
      assert.equal(e.textLength(format), Buffer.byteLength(text));
      assert.equal(e.text(format), text);
      const r = e.reader(format);
      const pieces: Buffer[] = [];
      for (let p = r.next(); p !== undefined; p = r.next()) pieces.push(Buffer.from(p));
      assert.equal(Buffer.concat(pieces).toString('utf8'), text);
    }
    // Held as references: a fraction of the text.
    assert.ok(e.textLength() > 4 * dictBytes(dict), 'label sets stored once');
  });

  it('does not mix references of different dicts', () => {
    const a = new Exposition(false, new LabelStore());
    a.put(F.connUp, labelBytes('conn="a"'), null, 1);
    assert.throws(() => new Exposition(false, new LabelStore()).absorb(a), /another dict/);
    const text = new Exposition();
    text.absorb(new Exposition()); // no dict on either side: as always
  });

  it('gives the pieces it made back to the free list, and only those', async () => {
    const m = (await import(`${'./exposition.js'}?by-reference`)) as typeof import('./exposition.js');
    const e = new m.Exposition(false, new m.LabelStore());
    for (let i = 0; i < 100_000; i++)
      e.put(F.childSaBytes, labelBytes(`conn="gw-${i}",child="net-${i % 7}"`), null, i * 1009);
    e.sample(F.up, '', 1);
    const r = e.reader();
    const pieces: Buffer[] = [];
    for (let p = r.next(); p !== undefined; p = r.next()) pieces.push(p);
    assert.ok(pieces.length > 10, `${pieces.length} pieces`);
    const before = m.freeChunks();
    for (const p of pieces) r.release(p);
    const made = pieces.filter((p) => p.length > 1000).length;
    assert.equal(m.freeChunks(), before + made, 'every full piece it made, no header, no line as text');
    for (const p of pieces) r.release(p);
    assert.equal(m.freeChunks(), before + made, 'each once');
  });
});

/** Bytes held by a store's label sets. */
function dictBytes(d: LabelStore): number {
  return d.ends[d.size] as number;
}
