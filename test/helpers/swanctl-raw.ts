// Parser for `swanctl --raw` output (one message per line: `<name> event {...}` or `<name> reply {...}`),
// so tests can compare what our client decodes with what strongSwan's own C client prints.
// Values may contain spaces (`class=pre-shared key`); a value ends where the next `key=`, `key {` or `}` starts.

export type RawTree = { [k: string]: string | string[] | RawTree };
export interface RawMessage {
  name: string;
  kind: 'event' | 'reply';
  message: RawTree;
}

const KEY = /[^\s={}[\]]+/y;
const VALUE_END = / (?=[^\s={}[\]]+(?:=| \{))| ?(?=\})/g;

function parseSection(s: string, start: number): [RawTree, number] {
  if (s[start] !== '{') throw new Error(`expected { at ${start}`);
  const out: RawTree = {};
  let i = start + 1;
  for (;;) {
    while (s[i] === ' ') i++;
    if (s[i] === '}') return [out, i + 1];
    if (i >= s.length) throw new Error('unterminated section');
    KEY.lastIndex = i;
    const m = KEY.exec(s);
    if (!m) throw new Error(`expected a key at ${i}: ${s.slice(i, i + 20)}`);
    const key = m[0];
    i = KEY.lastIndex;
    if (s.startsWith(' {', i)) {
      const [sec, next] = parseSection(s, i + 1);
      out[key] = sec;
      i = next;
    } else if (s.startsWith('=[', i)) {
      const end = s.indexOf(']', i);
      const body = s.slice(i + 2, end);
      out[key] = body === '' ? [] : body.split(' ');
      i = end + 1;
    } else if (s[i] === '=') {
      VALUE_END.lastIndex = i + 1;
      const e = VALUE_END.exec(s);
      const end = e ? e.index : s.length;
      out[key] = s.slice(i + 1, end);
      i = end;
    } else {
      throw new Error(`unexpected input at ${i}: ${s.slice(i, i + 20)}`);
    }
  }
}

export function parseSwanctlRaw(text: string): RawMessage[] {
  const out: RawMessage[] = [];
  for (const line of text.split('\n')) {
    const m = /^(\S+) (event|reply) (?=\{)/.exec(line);
    if (!m) continue;
    const [message] = parseSection(line, m[0].length);
    out.push({ name: m[1] as string, kind: m[2] as 'event' | 'reply', message });
  }
  return out;
}
