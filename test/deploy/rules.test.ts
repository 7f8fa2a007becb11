// deploy/prometheus: promtool accepts the rules and the example config, the promtool unit tests pass,
// every alert has a case where it fires and one where it stays quiet, the alerts follow the mixin
// conventions, and every metric the rules (and their tests) use is one the exporter writes, so that a
// renamed metric family breaks this test.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import YAML from 'yaml';
import { ROOT } from '../e2e/lab.js';
import { FAMILY_NAMES, metricNames, selectors, unknownMetrics } from './promql.js';

const DIR = path.join(ROOT, 'deploy/prometheus');
const RULES = path.join(DIR, 'rules.yml');
const TESTS = path.join(DIR, 'rules.test.yml');
const CONFIG = path.join(DIR, 'prometheus.yml');
const PROMTOOL = process.env.PROMTOOL ?? '/usr/bin/promtool';

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface RuleFile {
  groups: { name: string; rules: Rule[] }[];
}
interface AlertTest {
  eval_time: string;
  alertname: string;
  exp_alerts?: { exp_labels?: Record<string, string>; exp_annotations?: Record<string, string> }[];
}
interface TestFile {
  rule_files: string[];
  tests: {
    name: string;
    input_series: { series: string; values: string }[];
    alert_rule_test?: AlertTest[];
    promql_expr_test?: { expr: string; eval_time: string; exp_samples: unknown[] }[];
  }[];
}

const rules = YAML.parse(fs.readFileSync(RULES, 'utf8')) as RuleFile;
const tests = YAML.parse(fs.readFileSync(TESTS, 'utf8')) as TestFile;
const allRules = rules.groups.flatMap((g) => g.rules);
const alerts = allRules.filter((r): r is Rule & { alert: string } => r.alert !== undefined);
const records = allRules.filter((r): r is Rule & { record: string } => r.record !== undefined);
const recordNames = new Set(records.map((r) => r.record));

function promtool(...args: string[]): { code: number | null; out: string } {
  const r = spawnSync(PROMTOOL, args, { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

describe('deploy/prometheus', () => {
  it('promtool check rules accepts rules.yml', () => {
    const { code, out } = promtool('check', 'rules', RULES);
    assert.equal(code, 0, out);
    assert.match(out, new RegExp(`SUCCESS: ${allRules.length} rules found`));
  });

  it('promtool test rules passes every case of rules.test.yml', () => {
    const t0 = Date.now();
    const { code, out } = promtool('test', 'rules', TESTS);
    assert.equal(code, 0, out);
    assert.match(out, /SUCCESS/);
    assert.doesNotMatch(out, /FAILED/);
    // A guard against a unit-test run that evaluated nothing.
    assert.ok(Date.now() - t0 > 0);
  });

  it('promtool check config accepts the example prometheus.yml (and the rule file it loads)', () => {
    const { code, out } = promtool('check', 'config', CONFIG);
    assert.equal(code, 0, out);
    assert.match(out, /is valid prometheus config file syntax/);
  });

  it('the example config has a /metrics job and a blackbox-style /probe job', () => {
    const cfg = YAML.parse(fs.readFileSync(CONFIG, 'utf8')) as {
      rule_files: string[];
      scrape_configs: {
        job_name: string;
        metrics_path?: string;
        params?: Record<string, string[]>;
        relabel_configs?: { source_labels?: string[]; target_label: string; replacement?: string }[];
      }[];
    };
    assert.deepEqual(cfg.rule_files, ['rules.yml']);
    const jobs = cfg.scrape_configs;
    assert.ok(
      jobs.every((j) => /^strongswan/.test(j.job_name)),
      'StrongswanExporterDown matches these jobs',
    );
    assert.ok(jobs.some((j) => (j.metrics_path ?? '/metrics') === '/metrics'));
    const probe = jobs.find((j) => j.metrics_path === '/probe' && j.relabel_configs !== undefined);
    const relabel = probe?.relabel_configs ?? [];
    assert.ok(
      relabel.some((r) => r.source_labels?.[0] === '__address__' && r.target_label === '__param_target'),
    );
    assert.ok(
      relabel.some((r) => r.source_labels?.[0] === '__param_target' && r.target_label === 'instance'),
    );
    assert.ok(relabel.some((r) => r.target_label === '__address__' && /:9814$/.test(r.replacement ?? '')));
    assert.ok(jobs.some((j) => j.metrics_path === '/probe' && j.params?.target?.length === 1));
  });

  it('has the alerts the issue asks for, in mixin style', () => {
    const names = alerts.map((a) => a.alert);
    assert.equal(new Set(names).size, names.length, 'alert names are unique');
    for (const wanted of [
      'StrongswanExporterDown',
      'StrongswanDaemonUnreachable',
      'StrongswanTunnelDown',
      'StrongswanChildSAMissing',
      'StrongswanSACountDropped',
      'StrongswanCertificateExpiringSoon',
      'StrongswanCertificateExpired',
      'StrongswanChildRekeyOverdue',
      'StrongswanIKERekeyOverdue',
      'StrongswanPoolNearlyFull',
      'StrongswanEventsDisconnected',
      'StrongswanAuthenticationFailures',
    ]) {
      assert.ok(names.includes(wanted), wanted);
    }
    for (const a of alerts) {
      assert.match(a.alert, /^Strongswan[A-Z][A-Za-z]+$/, 'CamelCase with the Strongswan prefix');
      assert.match(a.for ?? '', /^\d+[smhd]$/, `${a.alert}: a for duration`);
      assert.ok(['critical', 'warning', 'info'].includes(a.labels?.severity ?? ''), `${a.alert}: severity`);
      assert.match(a.annotations?.summary ?? '', /^[A-Za-z].*\.$/, `${a.alert}: summary is a sentence`);
      assert.match(a.annotations?.description ?? '', /\$labels\.instance/, `${a.alert}: description`);
    }
  });

  it('the authentication alert counts auth failures only, per connection, and outlasts its window', () => {
    const a = alerts.find((x) => x.alert === 'StrongswanAuthenticationFailures');
    assert.ok(a);
    const sels = selectors(a.expr);
    assert.ok(sels.length > 0);
    for (const s of sels) {
      assert.equal(s.metric, 'strongswan_alerts_total');
      // cert-validation-failed comes with successful authentications too (docs/strongswan6-lab-notes.md)
      assert.deepEqual(s.matchers, [
        { label: 'alert', op: '=~', value: 'peer-auth-failed|local-auth-failed' },
      ]);
    }
    assert.match(a.expr, /^sum without \(alert\) \(/, 'by instance and conn');
    const window = /offset (\d+)m/.exec(a.expr)?.[1];
    const forMin = /^(\d+)m$/.exec(a.for ?? '')?.[1];
    assert.ok(window && forMin && Number(forMin) > Number(window), `for ${a.for} outlasts offset ${window}m`);
  });

  it('has the recording rules the dashboard computes: post-quantum share, users connected', () => {
    for (const name of [
      'instance:strongswan_ike_sa_info_post_quantum:ratio',
      'instance_conn:strongswan_user_up:sum',
    ]) {
      assert.ok(recordNames.has(name), name);
    }
  });

  it('every alert has a test case where it fires and one where it does not', () => {
    const cases = tests.tests.flatMap((t) => t.alert_rule_test ?? []);
    const names = new Set(alerts.map((a) => a.alert));
    for (const c of cases) assert.ok(names.has(c.alertname), `test for unknown alert ${c.alertname}`);
    for (const a of alerts) {
      const mine = cases.filter((c) => c.alertname === a.alert);
      const firing = mine.filter((c) => (c.exp_alerts ?? []).length > 0);
      assert.ok(firing.length > 0, `${a.alert}: no case expects it to fire`);
      assert.ok(
        mine.some((c) => (c.exp_alerts ?? []).length === 0),
        `${a.alert}: no case expects it to stay quiet`,
      );
      for (const c of firing) {
        for (const e of c.exp_alerts ?? []) {
          assert.equal(e.exp_labels?.severity, a.labels?.severity, `${a.alert}: severity in the test`);
          assert.ok(e.exp_annotations?.description, `${a.alert}: the test checks the rendered description`);
        }
      }
    }
  });

  it('every recording rule is named level:metric:operation and has an expression test', () => {
    const exprTests = tests.tests.flatMap((t) => t.promql_expr_test ?? []).map((t) => t.expr);
    for (const r of records) {
      assert.match(r.record, /^[a-z_]+:[a-z_]+:[a-z0-9_]+$/, r.record);
      const metric = r.record.split(':')[1] as string;
      assert.ok(
        [...FAMILY_NAMES].some(
          (f) => metric === f || metric === f.replace(/_total$/, '') || metric.startsWith(`${f}_`),
        ),
        `${r.record}: the metric part names no family`,
      );
      assert.ok(exprTests.includes(r.record), `${r.record}: no promql_expr_test`);
    }
  });

  it('uses only metrics the exporter writes (or up, or its own recording rules)', () => {
    for (const r of allRules) {
      assert.deepEqual(unknownMetrics(r.expr, ['up', ...recordNames]), [], r.alert ?? r.record);
      assert.ok(metricNames(r.expr).length > 0, `${r.alert ?? r.record}: no metric found`);
    }
    for (const t of tests.tests) {
      for (const s of t.input_series) {
        const name = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(s.series)?.[0] ?? '';
        assert.ok(name === 'up' || FAMILY_NAMES.has(name), `${t.name}: input series ${name}`);
      }
    }
  });

  it('the metric check catches a renamed family', () => {
    assert.deepEqual(unknownMetrics('strongswan_conn_upp == 0 and on (job) strongswan_up == 1', ['up']), [
      'strongswan_conn_upp',
    ]);
    assert.deepEqual(unknownMetrics('sum without (conn) (rate(strongswan_conn_child_bytes[5m]))'), [
      'strongswan_conn_child_bytes',
    ]);
    // Labels inside by()/on()/group_left() and strings are not metric names.
    assert.deepEqual(
      unknownMetrics(
        'sum by (conn, child) (x_total{job=~"strongswan"}) * on (conn) group_left (version) y offset 1h',
      ),
      ['x_total', 'y'],
    );
  });

  it('promtool is the one from the Debian prometheus package', () => {
    const v = execFileSync(PROMTOOL, ['--version'], { encoding: 'utf8' });
    assert.match(v, /^promtool, version \d+\.\d+/);
  });
});
