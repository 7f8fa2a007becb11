// Renders the README's metric tables from src/metrics/families.ts, between the markers
// `<!-- metrics:begin -->` and `<!-- metrics:end -->`. `--check` fails when the README differs.
// Usage: node dist/scripts/gen-metrics-doc.js [--check]

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { COLLECTORS } from '../src/collectors/registry.js';
import { ALL_FAMILIES, type Family } from '../src/metrics/families.js';

export const BEGIN = '<!-- metrics:begin -->';
export const END = '<!-- metrics:end -->';
export const README = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../README.md');

const cell = (s: string) => s.replace(/\|/g, '\\|');
const labels = (f: Family) => (f.labels.length ? f.labels.map((l) => `\`${l}\``).join(', ') : '');

export function renderMetricsDoc(): string {
  const out: string[] = [
    BEGIN,
    '',
    '_Generated from `src/metrics/families.ts` by `npm run docs`; do not edit by hand._',
    '',
  ];
  out.push('### Collectors', '', '| collector | default | what it collects |', '| --- | --- | --- |');
  for (const c of COLLECTORS)
    out.push(`| \`${c.name}\` | ${c.defaultEnabled ? 'on' : 'off'} | ${cell(c.help)} |`);
  out.push(
    '',
    '### Standard metrics',
    '',
    '| metric | type | labels | collector | meaning |',
    '| --- | --- | --- | --- | --- |',
  );
  for (const f of ALL_FAMILIES.filter((x) => x.set !== 'seed')) {
    out.push(`| \`${f.name}\` | ${f.type} | ${labels(f)} | ${f.collector} | ${cell(f.help)} |`);
  }
  out.push(
    '',
    '### Seed-compatible metrics (collector `seed`)',
    '',
    'Names and labels exactly as the seed exporter had them, so its dashboards keep working; each has a standard counterpart.',
    '',
    '| seed metric | labels | standard counterpart | meaning |',
    '| --- | --- | --- | --- |',
  );
  for (const f of ALL_FAMILIES.filter((x) => x.set === 'seed')) {
    out.push(`| \`${f.name}\` | ${labels(f)} | \`${f.standard}\` | ${cell(f.help)} |`);
  }
  out.push('', END);
  return out.join('\n');
}

export function spliceReadme(readme: string): string {
  const a = readme.indexOf(BEGIN);
  const b = readme.indexOf(END);
  if (a < 0 || b < a) throw new Error(`README.md has no ${BEGIN} ... ${END} block`);
  return readme.slice(0, a) + renderMetricsDoc() + readme.slice(b + END.length);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const current = fs.readFileSync(README, 'utf8');
  const next = spliceReadme(current);
  if (process.argv.includes('--check')) {
    if (next !== current) {
      process.stderr.write('README.md metrics tables are out of date: run `npm run docs`\n');
      process.exit(1);
    }
  } else if (next !== current) {
    fs.writeFileSync(README, next);
    process.stdout.write('README.md metrics tables updated\n');
  }
}
