// The Grafana dashboard as the deploy tests see it: its panels' queries, with the dashboard's and
// Grafana's variables substituted the way Grafana would for one selection.

import fs from 'node:fs';
import path from 'node:path';
import { ROOT } from '../e2e/lab.js';

export const DASHBOARD = path.join(ROOT, 'deploy/grafana/strongswan.json');

export interface DsRef {
  type?: string;
  uid?: string;
}

export interface Target {
  refId: string;
  expr: string;
  datasource?: DsRef;
  instant?: boolean;
  format?: string;
}

export interface Panel {
  id: number;
  type: string;
  title: string;
  description?: string;
  datasource?: DsRef;
  gridPos: { h: number; w: number; x: number; y: number };
  fieldConfig?: {
    defaults?: { unit?: string; mappings?: unknown[] };
    overrides?: { properties: { id: string; value: unknown }[] }[];
  };
  targets?: Target[];
  panels?: Panel[];
}

export interface Variable {
  name: string;
  label?: string;
  type: string;
  query: string | { query: string };
  datasource?: DsRef;
  multi?: boolean;
  includeAll?: boolean;
  allValue?: string;
  refresh?: number;
}

export interface Dashboard {
  uid: string;
  title: string;
  tags: string[];
  editable: boolean;
  schemaVersion: number;
  panels: Panel[];
  templating: { list: Variable[] };
}

export function loadDashboard(): Dashboard {
  return JSON.parse(fs.readFileSync(DASHBOARD, 'utf8')) as Dashboard;
}

/** Every panel, rows' nested panels included (rows themselves excluded). */
export function allPanels(d: Dashboard): Panel[] {
  return d.panels.flatMap((p) => (p.type === 'row' ? (p.panels ?? []) : [p]));
}

export interface PanelQuery {
  panel: Panel;
  target: Target;
  /** "Panel title / A" */
  name: string;
}

export function panelQueries(d: Dashboard): PanelQuery[] {
  return allPanels(d).flatMap((panel) =>
    (panel.targets ?? []).map((target) => ({ panel, target, name: `${panel.title} / ${target.refId}` })),
  );
}

export function variableQuery(v: Variable): string {
  return typeof v.query === 'string' ? v.query : v.query.query;
}

export interface Selection {
  job: string;
  instance: string;
  conn: string;
  /** Grafana's own variables */
  rateInterval?: string;
  interval?: string;
  range?: string;
}

/** The query as Grafana sends it for one selection of the variables (single values, regex-quoted). */
export function substitute(expr: string, s: Selection): string {
  const vars: Record<string, string> = {
    job: s.job,
    instance: s.instance,
    conn: s.conn,
    __rate_interval: s.rateInterval ?? '1m',
    __interval: s.interval ?? '15s',
    __range: s.range ?? '5m',
  };
  const out = expr.replace(/\$\{([A-Za-z_]+)\}|\$([A-Za-z_]+)/g, (m, a: string, b: string) => {
    const name = a ?? b;
    const v = vars[name];
    if (v === undefined) throw new Error(`unknown variable ${m} in ${expr}`);
    return v;
  });
  return out;
}

/** Regex-quote a value the way Grafana does for a single-value selection in a =~ matcher. */
export function regexQuote(v: string): string {
  return v.replace(/[\\^$*+?.()|[\]{}]/g, '\\\\$&');
}
