// Prometheus-style durations: `5s`, `500ms`, `1m30s`, `2h`; a bare number is seconds. As in
// Prometheus, units go from the longest to the shortest, each once: `30s1m` and `1s1s` are mistakes.

const UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parse a duration into milliseconds; throws an Error naming the bad input. */
export function parseDuration(text: string): number {
  const s = text.trim();
  if (/^\d+(\.\d+)?$/.test(s)) return Math.round(Number(s) * 1000);
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;
  let total = 0;
  let matched = 0;
  let last = Number.POSITIVE_INFINITY;
  let ordered = true;
  for (let m = re.exec(s); m !== null; m = re.exec(s)) {
    const unit = UNITS[m[2] as string] as number;
    if (unit >= last) ordered = false;
    last = unit;
    total += Number(m[1]) * unit;
    matched = re.lastIndex;
  }
  if (s === '' || matched !== s.length || !ordered) {
    throw new Error(
      `invalid duration "${text}" (expected e.g. 5s, 500ms, 1m30s: units longest first, each once)`,
    );
  }
  return Math.round(total);
}
