// Just enough of PromQL for the deploy tests: the vector selectors of an expression (metric name,
// label matchers, range, and the function the range is passed to), so that the tests can check the
// metric names against src/metrics/families.ts and the dashboard against the dashboard-linter rules.
// Syntax itself is checked by promtool and by a real Prometheus, not here.

import { ALL_FAMILIES } from '../../src/metrics/families.js';

export interface Matcher {
  label: string;
  op: '=' | '!=' | '=~' | '!~';
  value: string;
}

export interface Selector {
  /** undefined for a selector without a metric name ({job="x"}). */
  metric: string | undefined;
  matchers: Matcher[];
  /** The text between [ and ] after the selector, if any ("5m", "$__rate_interval", "1h:5m"). */
  range: string | undefined;
  /** The innermost function call around the selector ("rate", "sum", ...), if any. */
  fn: string | undefined;
}

type Tok = { kind: 'id' | 'str' | 'num' | 'var' | 'punct' | 'op'; text: string };

const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'atan2']);
const LABEL_LISTS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);

function tokenize(expr: string): Tok[] {
  const toks: Tok[] = [];
  let i = 0;
  const rest = () => expr.slice(i);
  while (i < expr.length) {
    const c = expr[i] as string;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '#') {
      while (i < expr.length && expr[i] !== '\n') i++;
      continue;
    }
    if (c === '"' || c === "'" || c === '`') {
      let j = i + 1;
      let s = '';
      while (j < expr.length && expr[j] !== c) {
        if (expr[j] === '\\' && c !== '`') {
          s += expr[j + 1] ?? '';
          j += 2;
        } else {
          s += expr[j];
          j++;
        }
      }
      if (j >= expr.length) throw new Error(`unterminated string in ${expr}`);
      toks.push({ kind: 'str', text: s });
      i = j + 1;
      continue;
    }
    const m =
      /^\$\{?[A-Za-z_][A-Za-z0-9_]*\}?/.exec(rest()) ??
      /^[A-Za-z_:][A-Za-z0-9_:]*/.exec(rest()) ??
      /^[0-9.][0-9A-Za-z.]*/.exec(rest()) ??
      /^(==|!=|=~|!~|<=|>=|[<>+\-*/%^=@])/.exec(rest()) ??
      /^[(){}[\],]/.exec(rest());
    if (!m) throw new Error(`cannot tokenize ${JSON.stringify(rest().slice(0, 20))} in ${expr}`);
    const text = m[0];
    const kind: Tok['kind'] = text.startsWith('$')
      ? 'var'
      : /^[A-Za-z_:]/.test(text)
        ? 'id'
        : /^[0-9.]/.test(text)
          ? 'num'
          : /^[(){}[\],]$/.test(text)
            ? 'punct'
            : 'op';
    toks.push({ kind, text });
    i += text.length;
  }
  return toks;
}

/** Every vector selector of a PromQL expression (Grafana variables may appear in strings and ranges). */
export function selectors(expr: string): Selector[] {
  const toks = tokenize(expr);
  const out: Selector[] = [];
  // One entry per open parenthesis: the function it calls, or undefined for grouping.
  const stack: (string | undefined)[] = [];
  const innermostFn = () => {
    for (let k = stack.length - 1; k >= 0; k--) if (stack[k] !== undefined) return stack[k];
    return undefined;
  };
  let pendingFn: string | undefined;
  let i = 0;
  const peek = (k = 0) => toks[i + k];
  while (i < toks.length) {
    const t = toks[i] as Tok;
    if (t.kind === 'id' && LABEL_LISTS.has(t.text) && peek(1)?.text === '(') {
      // a label list: skip it
      i += 2;
      while (i < toks.length && toks[i]?.text !== ')') i++;
      i++;
      continue;
    }
    if (t.kind === 'id' && peek(1)?.text === '(') {
      stack.push(t.text);
      i += 2;
      continue;
    }
    if (
      t.kind === 'id' &&
      !KEYWORDS.has(t.text) &&
      peek(1)?.kind === 'id' &&
      LABEL_LISTS.has(peek(1)?.text ?? '')
    ) {
      // an aggregation with its modifier first: sum by (a) (expr)
      pendingFn = t.text;
      i++;
      continue;
    }
    if (t.text === '(') {
      stack.push(pendingFn);
      pendingFn = undefined;
      i++;
      continue;
    }
    if (t.text === ')') {
      stack.pop();
      i++;
      continue;
    }
    if ((t.kind === 'id' && !KEYWORDS.has(t.text) && !LABEL_LISTS.has(t.text)) || t.text === '{') {
      const sel: Selector = {
        metric: t.text === '{' ? undefined : t.text,
        matchers: [],
        range: undefined,
        fn: innermostFn(),
      };
      if (t.text !== '{') i++;
      if (peek()?.text === '{') {
        i++;
        while (i < toks.length && peek()?.text !== '}') {
          const label = peek();
          const op = peek(1);
          const value = peek(2);
          if (label?.kind !== 'id' || op?.kind !== 'op' || value?.kind !== 'str') {
            throw new Error(`bad matcher near ${JSON.stringify(label?.text)} in ${expr}`);
          }
          sel.matchers.push({ label: label.text, op: op.text as Matcher['op'], value: value.text });
          i += 3;
          if (peek()?.text === ',') i++;
        }
        i++; // }
      }
      if (peek()?.text === '[') {
        i++;
        let r = '';
        while (i < toks.length && peek()?.text !== ']') {
          r += (peek() as Tok).text;
          i++;
        }
        i++; // ]
        sel.range = r;
      }
      out.push(sel);
      continue;
    }
    i++;
  }
  return out;
}

export function metricNames(expr: string): string[] {
  return [...new Set(selectors(expr).flatMap((s) => (s.metric === undefined ? [] : [s.metric])))];
}

export const FAMILY_NAMES: ReadonlySet<string> = new Set(ALL_FAMILIES.map((f) => f.name));

export function familyLabels(name: string): readonly string[] | undefined {
  return ALL_FAMILIES.find((f) => f.name === name)?.labels;
}

/** Metric names of `expr` that are neither an exporter family nor one of `also`. */
export function unknownMetrics(expr: string, also: Iterable<string> = []): string[] {
  const ok = new Set([...FAMILY_NAMES, ...also]);
  return metricNames(expr).filter((m) => !ok.has(m));
}
