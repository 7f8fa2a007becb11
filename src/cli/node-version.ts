// The oldest Node.js the exporter runs on, checked before anything else is loaded: zlib.crc32
// (gzip responses) came with Node 20.15.
export const MIN_NODE = '20.15.0';

/** Why this Node.js is too old (one line), or undefined when it will do. */
export function nodeTooOld(version: string, min: string = MIN_NODE): string | undefined {
  const have = version.replace(/^v/, '').split('.').map(Number);
  const need = min.split('.').map(Number);
  for (let i = 0; i < need.length; i++) {
    const h = have[i] ?? 0;
    const n = need[i] ?? 0;
    if (Number.isNaN(h)) break;
    if (h > n) return undefined;
    if (h < n) return `needs Node.js ${min} or later, this is ${version}`;
  }
  return undefined;
}
