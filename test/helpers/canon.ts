// A decoded VICI tree in a form deepEqual can compare: Buffers as hex, sections as plain objects.

/** Canonical form of a decoded tree (Buffers as hex, empty arrays as lists). */
export function canon(x: unknown): unknown {
  if (Buffer.isBuffer(x)) return `b:${x.toString('hex')}`;
  if (Array.isArray(x)) return x.map(canon);
  if (typeof x === 'object' && x !== null) {
    const o: Record<string, unknown> = {};
    for (const k of Object.keys(x))
      Object.defineProperty(o, k, { value: canon((x as Record<string, unknown>)[k]), enumerable: true });
    return o;
  }
  return x;
}
