// Property test of the whole client path (socket, framing, packets, codec, connection, client): a tiny
// server answers every request of a ViciClient with well-formed replies, mutated ones (bytes flipped,
// cut short, junk appended), random bytes, silence or a closed connection, in random chunks, with
// unsolicited events in between. Every call settles within its timeout (plus slack), resolving or
// rejecting with a typed ViciError; no exception or rejection escapes; and when every reply is
// well-formed, every call resolves with exactly what was sent. FUZZ_RUNS / FUZZ_SEED as the codec
// properties; FUZZ_CLIENT_SECONDS bounds a long run (default: no bound up to 1,000 runs, else 240 s).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import {
  encodeMessage,
  encodePacket,
  FrameDecoder,
  PacketType,
  parsePacket,
  STREAMED_COMMANDS,
  ViciClient,
  ViciError,
  type ViciInput,
  type ViciSection,
} from '../../src/vici/index.js';
import { canon } from '../helpers/canon.js';

const runs = Number(process.env.FUZZ_RUNS ?? 300);
const seed = Number(process.env.FUZZ_SEED ?? 20261128);
const seconds = Number(process.env.FUZZ_CLIENT_SECONDS ?? (runs <= 1000 ? 0 : 240));
/** Timeout of the calls when some reply is broken (a broken reply often means waiting for the rest). */
const SHORT_MS = 60;
/** Timeout when every reply is well-formed: they must all arrive. */
const LONG_MS = 3000;
/** Scheduling slack on top of a call's timeout on a loaded machine. */
const SLACK_MS = 1000;

const name = fc.string({ maxLength: 12 });
const value = fc.uint8Array({ maxLength: 40 }).map((u) => Buffer.from(u));
const tree: fc.Arbitrary<ViciInput> = fc.letrec<{ section: ViciInput }>((tie) => ({
  section: fc.dictionary(
    name,
    fc.oneof({ depthSize: 'small', maxDepth: 3 }, value, fc.array(value, { maxLength: 3 }), tie('section')),
    { maxKeys: 4 },
  ),
})).section;

interface Reply {
  /** well-formed, mutated, random bytes, nothing, or the connection closed. */
  kind: 'valid' | 'mutated' | 'random' | 'silent' | 'close';
  /** The message of a command's response (or of a confirm: ignored). */
  response: ViciInput;
  /** Events of a streamed command. */
  events: ViciInput[];
  /** CMD_UNKNOWN / EVENT_UNKNOWN instead of the answer. */
  unknown: boolean;
  /** Unsolicited event before the answer (name, message, well-formed?). */
  push: { name: string; message: ViciInput } | null;
  /** Mutations: of one frame (`target`), its data bytes flipped, its data cut short (the length fixed
   * to match, or not: then the rest is awaited), its header flipped too (`header`). */
  target: number;
  flips: [number, number][];
  cut: number | null;
  fixLength: boolean;
  header: boolean;
  junk: Uint8Array;
  random: Uint8Array;
  /** Split points of what is written (written chunk by chunk, a turn apart). */
  splits: number[];
  close: 'end' | 'destroy';
}

const reply: fc.Arbitrary<Reply> = fc.record({
  kind: fc.constantFrom('valid', 'valid', 'mutated', 'mutated', 'random', 'silent', 'close'),
  response: tree,
  events: fc.array(tree, { maxLength: 4 }),
  unknown: fc.integer({ min: 0, max: 7 }).map((n) => n === 0),
  push: fc.option(
    fc.record({ name: fc.constantFrom('ike-updown', 'list-sa', 'child-rekey', 'other'), message: tree }),
    { freq: 3 },
  ),
  target: fc.nat(),
  flips: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
  cut: fc.option(fc.nat(), { freq: 3 }),
  fixLength: fc.integer({ min: 0, max: 3 }).map((n) => n > 0),
  header: fc.integer({ min: 0, max: 5 }).map((n) => n === 0),
  junk: fc.uint8Array({ maxLength: 12 }),
  random: fc.uint8Array({ maxLength: 120 }),
  splits: fc.array(fc.nat(), { maxLength: 4 }),
  close: fc.constantFrom('end', 'destroy'),
});

/** A well-formed reply (no unsolicited listing event: it would belong to a listing under way). */
const validReply: fc.Arbitrary<Reply> = reply.map((r) => ({
  ...r,
  kind: 'valid',
  unknown: false,
  push: r.push?.name === 'list-sa' ? null : r.push,
}));

/** The reply to requests beyond the script in a well-formed run. */
const EMPTY_REPLY: Reply = {
  kind: 'valid',
  response: {},
  events: [],
  unknown: false,
  push: null,
  target: 0,
  flips: [],
  cut: null,
  fixLength: true,
  header: false,
  junk: new Uint8Array(),
  random: new Uint8Array(),
  splits: [],
  close: 'end',
};

type Call =
  | { op: 'command'; name: string }
  | { op: 'stream'; name: string }
  | { op: 'subscribe'; event: string };

const call: fc.Arbitrary<Call> = fc.oneof(
  fc.constantFrom('version', 'stats', 'get-pools').map((n): Call => ({ op: 'command', name: n })),
  fc.constantFrom('list-sas', 'list-conns', 'list-policies').map((n): Call => ({ op: 'stream', name: n })),
  fc.constantFrom('ike-updown', 'child-rekey').map((e): Call => ({ op: 'subscribe', event: e })),
);

/** What the server answers, per run: the replies in order of the requests that arrive. */
interface Script {
  replies: Reply[];
  next: number;
  /** For requests beyond the replies: silence (null) or this. */
  fallback: Reply | null;
  /** What a well-formed answer carried, by command name (for the all-valid check). */
  sent: Map<string, { response: ViciInput; events: number }>;
  sockets: Set<net.Socket>;
}

let script: Script = { replies: [], next: 0, fallback: null, sent: new Map(), sockets: new Set() };

/** The frames of the well-formed answer to one request. */
function answer(type: number, name: string, r: Reply): Buffer[] {
  if (type === PacketType.EVENT_REGISTER || type === PacketType.EVENT_UNREGISTER)
    return [encodePacket(r.unknown ? PacketType.EVENT_UNKNOWN : PacketType.EVENT_CONFIRM)];
  if (type !== PacketType.CMD_REQUEST) return [];
  if (r.unknown) return [encodePacket(PacketType.CMD_UNKNOWN)];
  const event = STREAMED_COMMANDS[name];
  const frames = event === undefined ? [] : r.events.map((m) => encodePacket(PacketType.EVENT, event, m));
  script.sent.set(name, { response: r.response, events: frames.length });
  return [...frames, encodePacket(PacketType.CMD_RESPONSE, undefined, r.response)];
}

/** One frame of the answer broken as `r` says. */
function mutate(frame: Buffer, r: Reply): Buffer {
  let f = Buffer.from(frame);
  const data = f.length - 4;
  for (const [pos, b] of r.flips) {
    if (r.header) f[pos % f.length] = b;
    else if (data > 0) f[4 + (pos % data)] = b;
  }
  if (r.cut !== null) {
    f = f.subarray(0, 4 + (r.cut % (data + 1)));
    if (r.fixLength) f.writeUInt32BE(f.length - 4, 0);
  }
  return f;
}

function serve(sock: net.Socket, r: Reply, type: number, name: string): void {
  if (r.kind === 'silent') return;
  if (r.kind === 'close') {
    if (r.close === 'end') sock.end();
    else sock.destroy();
    return;
  }
  let bytes: Buffer;
  if (r.kind === 'random') bytes = Buffer.from(r.random);
  else {
    const frames = answer(type, name, r);
    if (r.kind === 'mutated' && frames.length > 0) {
      const k = r.target % frames.length;
      frames[k] = mutate(frames[k] as Buffer, r);
      frames.push(Buffer.from(r.junk));
    }
    bytes = Buffer.concat(frames);
  }
  if (r.push !== null) {
    const p = encodePacket(PacketType.EVENT, r.push.name, encodeMessage(r.push.message));
    bytes = Buffer.concat([p, bytes]);
  }
  const points = [...new Set(r.splits.map((s) => s % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let prev = 0;
  for (const p of [...points, bytes.length]) {
    if (p > prev) chunks.push(bytes.subarray(prev, p));
    prev = p;
  }
  const writeNext = () => {
    const c = chunks.shift();
    if (c === undefined || sock.destroyed) return;
    sock.write(c);
    setImmediate(writeNext);
  };
  writeNext();
}

function onConnection(sock: net.Socket): void {
  const s = script;
  s.sockets.add(sock);
  sock.on('close', () => s.sockets.delete(sock));
  sock.on('error', () => {});
  const decoder = new FrameDecoder();
  sock.on('data', (chunk: Buffer) => {
    let frames: Buffer[];
    try {
      frames = decoder.push(chunk);
    } catch {
      sock.destroy();
      return;
    }
    for (const f of frames) {
      const p = parsePacket(f);
      const r = s.replies[s.next++] ?? s.fallback;
      if (r === null) continue; // out of script: silence
      serve(sock, r, p.type, p.name ?? '');
    }
  });
}

describe('client properties', () => {
  let dir: string;
  let server: net.Server;
  let address: string;
  const escaped: unknown[] = [];
  const onEscape = (e: unknown) => escaped.push(e);

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'client-fuzz-'));
    const sockPath = path.join(dir, 'vici');
    server = net.createServer(onConnection);
    await new Promise<void>((r) => server.listen(sockPath, r));
    address = `unix://${sockPath}`;
    process.on('uncaughtException', onEscape);
    process.on('unhandledRejection', onEscape);
  });
  after(async () => {
    process.off('uncaughtException', onEscape);
    process.off('unhandledRejection', onEscape);
    for (const s of script.sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('every call settles in time with a result or a typed ViciError; well-formed replies arrive whole', async (t) => {
    let allRuns = 0;
    let allValidRuns = 0;
    let settledWithError = 0;
    let resolved = 0;
    const kinds = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.array(validReply, { minLength: 1, maxLength: 8 }),
          fc.array(reply, { minLength: 1, maxLength: 8 }),
        ),
        fc.uniqueArray(call, {
          minLength: 1,
          maxLength: 4,
          selector: (c) => (c.op === 'subscribe' ? c.event : c.name),
        }),
        fc.boolean(),
        async (replies, calls, concurrent) => {
          const allValid = replies.every((r) => r.kind === 'valid' && !r.unknown);
          allRuns++;
          if (allValid) allValidRuns++;
          script = {
            replies,
            next: 0,
            fallback: allValid ? EMPTY_REPLY : null,
            sent: new Map(),
            sockets: new Set(),
          };
          const timeoutMs = allValid ? LONG_MS : SHORT_MS;
          const client = new ViciClient({ address, timeoutMs, backoffInitialMs: 5, backoffMaxMs: 20 });
          const events: ViciSection[] = [];
          const one = async (c: Call) => {
            const t0 = performance.now();
            let result: unknown;
            let error: unknown;
            try {
              if (c.op === 'command')
                result = await client.command(c.name, undefined, { checkSuccess: false });
              else if (c.op === 'stream') {
                const got: ViciSection[] = [];
                const r = await client.stream(c.name, undefined, (m) => got.push(m), { checkSuccess: false });
                result = { ...r, got };
              } else await client.subscribe([c.event], (_n, m) => events.push(m));
            } catch (err) {
              error = err;
            }
            return { c, ms: performance.now() - t0, result, error };
          };
          try {
            const outcomes = concurrent
              ? await Promise.all(calls.map(one))
              : await calls.reduce<Promise<Awaited<ReturnType<typeof one>>[]>>(
                  async (acc, c) => [...(await acc), await one(c)],
                  Promise.resolve([]),
                );
            for (const o of outcomes) {
              const what = `${o.c.op} ${'name' in o.c ? o.c.name : o.c.event}`;
              assert.ok(o.ms < timeoutMs + SLACK_MS, `${what} settled after ${o.ms.toFixed(0)} ms`);
              if (o.error !== undefined) {
                settledWithError++;
                const kind = `${(o.error as Error).name}: ${String((o.error as Error).message)
                  .replace(/unix:\/\/\S+/g, '')
                  .replace(/\d+/g, 'N')
                  .slice(0, 60)}`;
                kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
                assert.ok(o.error instanceof ViciError, `${what}: not a ViciError: ${String(o.error)}`);
                assert.ok(!allValid, `${what} failed although every reply was well-formed: ${o.error}`);
                continue;
              }
              resolved++;
              if (!allValid || o.c.op === 'subscribe') continue;
              // Well-formed: exactly what the server sent for this command.
              const sent = script.sent.get(o.c.name);
              assert.ok(sent !== undefined, `${what}: answered`);
              if (o.c.op === 'command') assert.deepEqual(canon(o.result), canon(sent.response));
              else {
                const r = o.result as { count: number; response: ViciSection; got: ViciSection[] };
                assert.equal(r.count, sent.events, `${what}: events`);
                assert.equal(r.got.length, sent.events, `${what}: events handed over`);
                assert.deepEqual(canon(r.response), canon(sent.response));
              }
            }
          } finally {
            client.close();
            for (const s of script.sockets) s.destroy();
          }
          // Let whatever is still on its way (late replies, socket closes) happen inside this run.
          await new Promise((r) => setImmediate(r));
          assert.deepEqual(escaped, [], 'nothing escaped');
        },
      ),
      {
        numRuns: runs,
        seed,
        ...(seconds > 0 ? { interruptAfterTimeLimit: seconds * 1000, markInterruptAsFailure: false } : {}),
      },
    );
    assert.deepEqual(escaped, [], 'nothing escaped');
    t.diagnostic(
      `client fuzz: ${allRuns} runs (seed ${seed}), ${allValidRuns} well-formed, ${resolved} calls resolved, ${settledWithError} failed:`,
    );
    for (const [k, n] of [...kinds].sort((a, b) => b[1] - a[1])) t.diagnostic(`  ${n} x ${k}`);
    // The generator reaches both sides: runs where every reply is well-formed, and failing calls.
    assert.ok(allValidRuns > 0, 'some runs with only well-formed replies');
    assert.ok(settledWithError > 0, 'some calls failed');
  });
});
