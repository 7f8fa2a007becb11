import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Exposition, escapeLabelValue, formatValue, isDecimal, renderLabels } from './exposition.js';
import { F, type Family } from './families.js';
import { ChunkPool } from './pool.js';

/** Every piece of a reader, copied (a pooled piece may be reused once released). */
function readAll(
  e: Exposition,
  format: 'prometheus' | 'openmetrics' = 'prometheus',
  release = false,
): string {
  const r = e.reader(format);
  const out: Buffer[] = [];
  for (let p = r.next(); p !== undefined; p = r.next()) {
    out.push(Buffer.from(p));
    if (release) r.release(p);
  }
  return Buffer.concat(out).toString('utf8');
}

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
    e.write(F.connUp, 1, e.labels(['conn'], ['a']));
    e.write(F.up, 1);
    e.write(F.connUp, 0, e.labels(['conn'], ['b']));
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
    e.write(F.connChildBytes, '42', e.labels(['conn', 'child'], ['a', 'n']), 'in');
    assert.match(
      e.text('openmetrics'),
      /^# HELP strongswan_conn_child_bytes .*\n# TYPE strongswan_conn_child_bytes counter\nstrongswan_conn_child_bytes_total\{conn="a",child="n",direction="in"\} 42\n$/,
    );
    assert.match(e.text('prometheus'), /# TYPE strongswan_conn_child_bytes_total counter\n/);
  });

  it('checks label names against the family, and label sets against the scrape', () => {
    const e = new Exposition();
    const conn = e.labels(['conn'], ['a']);
    assert.throws(
      () => e.write(F.connUp, 1, e.labels(['name'], ['a'])),
      /strongswan_conn_up: written with labels \[name\], declared \[conn\]/,
    );
    assert.throws(() => e.write(F.connUp, 1), /declared \[conn\]/);
    assert.throws(() => e.write(F.connUp, 1, conn, 'extra'), /declared \[conn\]/);
    assert.throws(() => e.write(F.connChildUp, 1, conn), /declared \[conn,child\]/);
    assert.throws(() => e.write(F.up, 1, null, 'x'), /declared \[\]/);
    assert.throws(() => e.labels(['conn', 'child'], ['a']), /1 values for 2 names/);
    assert.ok(e.write(F.connChildUp, 1, conn, 'net'));
    assert.throws(() => new Exposition().write(F.connUp, 1, conn), /another scrape/);
    assert.throws(() => new Exposition().absorb(e.part()), /another scrape/);
    assert.equal(
      e
        .text()
        .split('\n')
        .filter((l) => !l.startsWith('#'))
        .join(''),
      'strongswan_conn_child_up{conn="a",child="net"} 1',
    );
  });

  it('writes values as the text format does, and nothing for a value that is not a number', () => {
    const e = new Exposition();
    const l = e.labels(['conn'], ['a']);
    for (const [v, ok] of [
      ['18446744073709551615', true],
      ['-3', true],
      ['1e3', false],
      ['', false],
      ['-', false],
      ['1'.repeat(24), false],
      [undefined, false],
      [0.1, true],
      [Number.NaN, true],
    ] as const)
      assert.equal(e.write(F.connIkeSas, v, l), ok, String(v));
    assert.equal(e.samples, 4);
    assert.match(
      e.text(),
      /\{conn="a"\} 18446744073709551615\n.*\{conn="a"\} -3\n.*\{conn="a"\} 0\.1\n.*\{conn="a"\} NaN\n$/s,
    );
  });

  it('gives the text of the string form, whole or piece by piece, through absorbed parts and chunk boundaries', () => {
    const value = fc.oneof(
      fc.integer({ min: -(2 ** 53) + 1, max: 2 ** 53 - 1 }),
      fc.double(),
      fc.constantFrom(0, -0, 2 ** 53, 1e21, Number.NaN, Number.POSITIVE_INFINITY),
      fc.stringMatching(/^-?[0-9]{1,23}$/),
      fc.constantFrom('1e3', '', '0x1'),
    );
    const text = fc.oneof(
      fc.string({ maxLength: 20 }),
      fc.string({ unit: 'grapheme', maxLength: 8 }),
      fc.string({ maxLength: 3 }).map((t) => `${'x'.repeat(300_000)}\u00e9${t}`),
    );
    // A family and how a collector names its labels: a set of the first n, values for the rest.
    const families: [Family, number][] = [
      [F.up, 0],
      [F.connUp, 1],
      [F.connChildBytes, 2],
      [F.connChildBytes, 0],
      [F.ikeMessages, 0],
      [F.childSaBytes, 4],
    ];
    const line = fc.record({
      fam: fc.constantFrom(...families),
      values: fc.array(text, { minLength: 5, maxLength: 5 }),
      value,
      part: fc.nat(2),
      repeat: fc.nat(3000),
    });
    fc.assert(
      fc.property(fc.array(line, { maxLength: 12 }), (xs) => {
        const pool = new ChunkPool(true);
        const e = new Exposition({ pool });
        const parts = [e.part(), e.part(), e];
        // Lines per part: absorbing puts a part's lines after those already there.
        const wants = [new Map<Family, string>(), new Map<Family, string>(), new Map<Family, string>()];
        let samples = 0;
        for (const x of xs) {
          const [f, n] = x.fam;
          const out = parts[x.part] as Exposition;
          const want = wants[x.part] as Map<Family, string>;
          const vs = x.values.slice(0, f.labels.length);
          const set = n > 0 ? out.labels(f.labels.slice(0, n), vs.slice(0, n)) : null;
          const [a, b, c] = vs.slice(n);
          // (a line longer than a chunk a few times only: it is 300 KB)
          const times = vs.some((v) => v.length > 1000) ? 1 + (x.repeat % 3) : 1 + x.repeat;
          for (let k = 0; k < times; k++) {
            const ok = out.write(f, x.value, set, a, b, c);
            const valid = typeof x.value === 'number' || isDecimal(x.value);
            assert.equal(ok, valid);
            if (!valid) break;
            const labels = renderLabels(f.labels, vs);
            const v = typeof x.value === 'number' ? formatValue(x.value) : x.value;
            want.set(f, `${want.get(f) ?? ''}${f.name}${labels === '' ? '' : `{${labels}}`} ${v}\n`);
            samples++;
          }
        }
        e.absorb(parts[0] as Exposition);
        e.absorb(parts[1] as Exposition);
        const want = new Map<Family, string>();
        for (const k of [2, 0, 1])
          for (const [f, lines] of wants[k] as Map<Family, string>) want.set(f, (want.get(f) ?? '') + lines);
        const all = [...want].sort(([p], [q]) => p.ordinal - q.ordinal);
        for (const format of ['prometheus', 'openmetrics'] as const) {
          const expected = all
            .map(([f, lines]) => {
              const h =
                format === 'openmetrics' && f.type === 'counter' ? f.name.replace(/_total$/, '') : f.name;
              return `# HELP ${h} ${f.help}\n# TYPE ${h} ${f.type}\n${lines}`;
            })
            .join('');
          assert.equal(e.text(format), expected);
          assert.equal(readAll(e, format, true), expected);
          assert.equal(e.textLength(format), Buffer.byteLength(expected));
        }
        assert.equal(e.samples, samples);
        e.recycle();
      }),
      { numRuns: 60, seed: 20261207 },
    );
  });

  it('stores a label set once per `labels` call, and each ending once per scrape', () => {
    const e = new Exposition();
    for (let i = 0; i < 10_000; i++) {
      const l = e.labels(['conn', 'child'], [`gw-${i}`, `net-${i % 3}`]);
      e.write(F.connChildBytes, i, l, 'in');
      e.write(F.connChildBytes, i, l, 'out');
      e.write(F.connChildPackets, i, l, 'in');
    }
    const dict = (e as unknown as { dict: { size: number } }).dict;
    // 10,000 label sets, and `,direction="in"` / `,direction="out"` once per family
    assert.equal(dict.size, 10_000 + 3);
  });
});

describe('chunks of a pool', () => {
  it('are given back once the exposition is recycled, and its reader pieces once released', () => {
    const pool = new ChunkPool(true);
    const e = new Exposition({ pool });
    for (let i = 0; i < 100_000; i++)
      e.write(F.connChildBytes, i * 1009, e.labels(['conn', 'child'], [`gw-${i}`, `net-${i % 7}`]), 'in');
    assert.equal(pool.freeChunks, 0);
    const r = e.reader();
    const pieces: Buffer[] = [];
    for (let p = r.next(); p !== undefined; p = r.next()) pieces.push(p);
    assert.ok(pieces.length > 10, `${pieces.length} pieces`);
    e.recycle();
    const lines = pool.freeChunks;
    assert.ok(lines >= 5, `the lines' ${lines} chunks went back`);
    for (const p of pieces) r.release(p);
    assert.equal(pool.freeChunks, lines + pieces.length, 'every piece it made');
    for (const p of pieces) r.release(p);
    assert.equal(pool.freeChunks, lines + pieces.length, 'each once');
    assert.throws(() => e.reader(), /after recycle/);
    assert.throws(() => pool.give(pieces[0] as Buffer), /given back twice/);
  });

  it('make text read from a chunk given back early fail, not go out wrong (checked pool)', () => {
    const pool = new ChunkPool(true);
    const e = new Exposition({ pool });
    for (let i = 0; i < 50_000; i++) e.write(F.connUp, i, e.labels(['conn'], [`gw-${i}`]));
    const r = e.reader();
    // A bug that gives the lines' chunk back while a reader still reads them:
    const lines = (e as unknown as { bodies: { segs: Buffer[] }[] }).bodies[F.connUp.ordinal]
      ?.segs[3] as Buffer;
    pool.give(lines.buffer);
    assert.throws(() => {
      for (let p = r.next(); p !== undefined; p = r.next()) r.release(p);
    }, /given back while in use/);
  });

  it('refuse chunks they did not lend, quietly when unchecked', () => {
    const pool = new ChunkPool(false);
    pool.give(Buffer.alloc(1 << 18));
    const c = pool.take();
    pool.give(c);
    pool.give(c);
    assert.equal(pool.freeChunks, 1);
    assert.throws(() => new ChunkPool(true).give(Buffer.alloc(8)), /not from this pool/);
  });
});
