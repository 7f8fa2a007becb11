import assert from 'node:assert/strict';
import http from 'node:http';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type Cursor,
  type Piece,
  type PieceSource,
  SharedText,
  STALL_MS,
  WINDOW,
  writeShared,
} from './shared-text.js';

/** A source of `n` pieces `p0`, `p1`, ...: counts the sources made and the pieces given back. */
function pieces(n: number) {
  const log = { sources: 0, released: [] as string[] };
  const make = (): PieceSource => {
    log.sources++;
    let i = 0;
    return {
      next: () => (i < n ? Buffer.from(`p${i++}`) : undefined),
      release: (b) => log.released.push(b.toString()),
    };
  };
  return { log, make };
}

/** Take and write (at once) every piece the cursor may take now; the pieces' text. */
function drain(c: Cursor, writeDone = true): { got: string[]; end: boolean; held: Piece[] } {
  const got: string[] = [];
  const held: Piece[] = [];
  for (;;) {
    const p = c.take();
    if (p === null) return { got, end: false, held };
    if (p === undefined) return { got, end: true, held };
    got.push(p.buf.toString());
    if (writeDone) c.written(p);
    else held.push(p);
  }
}

const tail = [Buffer.from('t0'), Buffer.from('t1')];
const all = (n: number) => [...Array.from({ length: n }, (_, i) => `p${i}`), 't0', 't1'];

describe('SharedText', () => {
  it('gives every client the same pieces from one source, each given back once all wrote it', () => {
    const { log, make } = pieces(WINDOW - 3);
    const text = new SharedText(make, 0, tail);
    const a = text.open();
    const b = text.open();
    const ra = drain(a, false);
    assert.deepEqual(ra.got, all(WINDOW - 3));
    assert.equal(ra.end, true);
    assert.deepEqual(log.released, [], 'b has taken none yet');
    const rb = drain(b);
    assert.deepEqual(rb.got, all(WINDOW - 3));
    assert.deepEqual(log.released, [], "a's writes are not done");
    for (const p of ra.held) a.written(p);
    // Tail buffers are the exporter's own: given to release, which knows its pieces (TextReader).
    assert.deepEqual(log.released.sort(), all(WINDOW - 3).sort());
    assert.equal(log.sources, 1);
  });

  it('keeps the fastest client within WINDOW pieces of the slowest', async () => {
    const { make } = pieces(3 * WINDOW);
    const text = new SharedText(make, 0, []);
    const fast = text.open();
    const slow = text.open();
    const r = drain(fast);
    assert.equal(r.got.length, WINDOW);
    assert.equal(r.end, false);
    let resumed = false;
    text.wait(() => {
      resumed = true;
    });
    assert.ok(slow.take() !== null);
    assert.equal(resumed, true, 'the slowest moved: the fast one goes on');
    assert.equal(drain(fast).got.length, 1);
  });

  it('leaves a client that does not read behind, with a text of its own', async () => {
    const { log, make } = pieces(3 * WINDOW);
    const text = new SharedText(make, 0, []);
    const fast = text.open();
    const slow = text.open();
    const first = slow.take() as Piece;
    slow.written(first);
    drain(fast);
    let resumed = false;
    text.wait(() => {
      resumed = true;
    });
    await sleep(STALL_MS + 200);
    assert.equal(resumed, true);
    assert.notEqual(slow.text, text, 'the slow client reads its own text now');
    const f = drain(fast);
    assert.equal(f.end, true);
    const s = drain(slow);
    assert.deepEqual(s.got, all(3 * WINDOW).slice(1, 3 * WINDOW), 'from where it was');
    assert.equal(log.sources, 2);
    // Every piece of both texts given back once (the slow text's first one as it was skipped).
    assert.equal(log.released.length, 2 * 3 * WINDOW);
  });

  it('gives a client that comes late a text of its own, and never reuses pieces of one that went away', () => {
    const { log, make } = pieces(4);
    const text = new SharedText(make, 0, []);
    const a = text.open();
    const b = text.open();
    const held = drain(a, false).held;
    const late = text.open();
    assert.notEqual(late.text, text);
    assert.deepEqual(drain(late).got, all(4).slice(0, 4));
    assert.equal(log.sources, 2);
    const before = log.released.length;
    drain(b);
    a.close(); // its writes never finished: the pieces may still be in a socket's hands
    for (const p of held) a.written(p);
    assert.equal(log.released.length, before, 'abandoned pieces are not given back');
    assert.equal(text.length, 0);
  });

  it('ends a response whose text cannot be made, and the server goes on', async () => {
    let fail = true;
    const server = http.createServer((_req, res) => {
      const source: PieceSource = {
        next: () => {
          if (fail) throw new Error('boom');
          return undefined;
        },
        release: () => {},
      };
      const text = new SharedText(() => source, 0, [Buffer.from('ok\n')]);
      res.setHeader('Content-Length', fail ? 10 : text.length);
      writeShared(res, text);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
    try {
      await assert.rejects(async () => (await fetch(url)).text());
      fail = false;
      assert.equal(await (await fetch(url)).text(), 'ok\n');
    } finally {
      server.close();
      server.closeAllConnections();
    }
  });
});
