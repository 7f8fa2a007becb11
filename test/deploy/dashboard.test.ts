// deploy/grafana/strongswan.json, statically: the grafana/dashboard-linter rules (template-datasource,
// template-job/instance, template-on-time-change-reload, template-uneditable, panel-datasource,
// panel-title-description, panel-units, target-job/instance, target-rate-interval, target-counter-agg),
// a sane layout, metric names that exist in src/metrics/families.ts, and queries that promtool parses.
// test/e2e/dashboard.e2e.test.ts runs every query against a real Prometheus scraping the lab.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import YAML from 'yaml';
import { ALL_FAMILIES } from '../../src/metrics/families.js';
import { allPanels, loadDashboard, panelQueries, substitute, variableQuery } from './dashboard.js';
import { FAMILY_NAMES, familyLabels, selectors, unknownMetrics } from './promql.js';

const d = loadDashboard();
const queries = panelQueries(d);
// Grafana's variable syntax, not a template string.
const DS = new Set([`$\{datasource}`, '$datasource']);
// Families with conn="" for failed attempts and alerts of no configured connection (README, "Events").
const CONN_MAY_BE_EMPTY = new Set(['strongswan_ike_sa_failures_total', 'strongswan_alerts_total']);

// grafana/dashboard-linter's list (lint/rule_panel_units.go), the part that fits an exporter.
const VALID_UNITS = new Set(
  (
    'none string short percent percentunit bytes decbytes bits decbits pps binBps Bps binbps bps ' +
    'dateTimeAsIso dateTimeAsLocal dateTimeFromNow ns µs ms s m h d dtdurationms dtdurations dthms dtdhms ' +
    'cps ops reqps rps wps iops cpm opm rpm wpm bool bool_yes_no bool_on_off'
  ).split(' '),
);

function variable(name: string) {
  const v = d.templating.list.find((t) => t.name === name);
  assert.ok(v, `variable ${name}`);
  return v;
}

describe('deploy/grafana/strongswan.json', () => {
  it('is an uneditable dashboard with a stable uid, tags and a schemaVersion of Grafana 10/11', () => {
    assert.equal(d.uid, 'strongswan-exporter');
    assert.ok(d.title);
    assert.ok(d.tags.includes('strongswan'));
    assert.equal(d.editable, false);
    assert.ok(d.schemaVersion >= 36 && d.schemaVersion <= 41, String(d.schemaVersion));
  });

  it('has the datasource, job, instance and conn variables the linter wants', () => {
    const ds = variable('datasource');
    assert.equal(ds.type, 'datasource');
    assert.equal(ds.query, 'prometheus');
    assert.equal(ds.label, 'Data source');
    assert.equal(d.templating.list.filter((t) => t.type === 'datasource').length, 1);
    const expected: Record<string, [string, string]> = {
      job: ['Job', 'label_values(strongswan_up, job)'],
      instance: ['Instance', 'label_values(strongswan_up{job=~"$job"}, instance)'],
      conn: ['Connection', 'label_values(strongswan_conn_info{job=~"$job", instance=~"$instance"}, conn)'],
    };
    for (const [name, [label, query]] of Object.entries(expected)) {
      const v = variable(name);
      assert.equal(v.type, 'query', name);
      assert.ok(DS.has(v.datasource?.uid ?? ''), `${name}: datasource`);
      assert.equal(v.label, label);
      assert.equal(variableQuery(v), query);
      assert.equal(v.multi, true, `${name}: multi`);
      assert.equal(v.includeAll, true, `${name}: includeAll`);
      assert.equal(v.allValue, '.+', `${name}: allValue`);
      assert.equal(v.refresh, 2, `${name}: refresh on time range change`);
    }
  });

  it('every panel has a title, a description, the templated datasource and queries', () => {
    const panels = allPanels(d);
    assert.ok(panels.length >= 30, `${panels.length} panels`);
    const ids = d.panels.map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length, 'unique panel ids');
    for (const p of panels) {
      assert.ok(p.title.trim(), `panel ${p.id}: title`);
      assert.ok((p.description ?? '').trim().length > 20, `${p.title}: description`);
      assert.ok(DS.has(p.datasource?.uid ?? ''), `${p.title}: panel datasource`);
      assert.equal(p.datasource?.type, 'prometheus', `${p.title}: datasource type`);
      assert.ok((p.targets ?? []).length > 0, `${p.title}: no queries`);
      const refIds = (p.targets ?? []).map((t) => t.refId);
      assert.equal(new Set(refIds).size, refIds.length, `${p.title}: refIds`);
      for (const t of p.targets ?? [])
        assert.ok(DS.has(t.datasource?.uid ?? ''), `${p.title}: target datasource`);
    }
  });

  it('has the road-warrior row, the post-quantum share, and failed attempts next to the IKE SA events', () => {
    // The rows in order, each with the titles of its panels (rows are not collapsed: their panels follow).
    const rows = new Map<string, string[]>();
    let row = '';
    for (const p of d.panels) {
      if (p.type === 'row') {
        row = p.title;
        rows.set(row, []);
      } else rows.get(row)?.push(p.title);
    }
    assert.deepEqual(rows.get('Road-warrior users'), [
      'Users connected',
      'Users by virtual IP pool',
      'Users tracked / dropped',
      'Top users by traffic',
      'Connected users',
    ]);
    assert.ok(rows.get('Overview')?.includes('Post-quantum IKE SAs'));
    const byTitle = (title: string) => {
      const p = allPanels(d).find((x) => x.title === title);
      assert.ok(p, title);
      return p;
    };
    const expr = (title: string) => (byTitle(title).targets ?? []).map((t) => t.expr).join('\n');
    const events = byTitle('IKE SA events');
    const failed = byTitle('IKE SA failed attempts');
    assert.equal(failed.gridPos.y, events.gridPos.y, 'failed attempts beside the IKE SA events');
    assert.match(expr('IKE SA failed attempts'), /strongswan_ike_sa_failures_total/);
    assert.match(expr('Daemon alerts'), /by \(instance, conn, alert\)/);
    // ML-KEM as the first key exchange or an additional one; 0 rather than nothing without any.
    const pq = expr('Post-quantum IKE SAs');
    assert.match(pq, /additional_key_exchanges=~"\.\*ML_KEM\.\*"/);
    assert.match(pq, /dh_group=~"ML_KEM\.\*"/);
    assert.match(pq, /or 0 \* count by \(instance\)/);
    assert.equal(byTitle('Post-quantum IKE SAs').fieldConfig?.defaults?.unit, 'percentunit');
    assert.match(expr('Users connected'), /strongswan_user_up/);
    assert.match(
      expr('Top users by traffic'),
      /topk\(10, sum by \(instance, conn, user\) \(rate\(strongswan_user_bytes_total/,
    );
    assert.match(expr('Users by virtual IP pool'), /strongswan_pool_leases\{[^}]*state="online"/);
    assert.match(
      expr('Users by virtual IP pool'),
      /count by \(instance, pool\) \(strongswan_user_virtual_ip_info\{/,
    );
    assert.match(expr('Users tracked / dropped'), /strongswan_users_dropped_total/);
  });

  it('every panel has a valid unit or value mappings (panel-units-rule)', () => {
    for (const p of allPanels(d)) {
      const unit = p.fieldConfig?.defaults?.unit;
      const mapped = (p.fieldConfig?.defaults?.mappings ?? []).length > 0;
      assert.ok(mapped || VALID_UNITS.has(unit ?? ''), `${p.title}: unit ${unit}`);
    }
  });

  it('panels fit the 24-column grid without overlapping', () => {
    const cells = new Map<string, string>();
    for (const p of d.panels) {
      const g = p.gridPos;
      assert.ok(g.x >= 0 && g.w > 0 && g.x + g.w <= 24 && g.h > 0 && g.y >= 0, `${p.title}: gridPos`);
      for (let x = g.x; x < g.x + g.w; x++) {
        for (let y = g.y; y < g.y + g.h; y++) {
          const k = `${x},${y}`;
          assert.ok(!cells.has(k), `${p.title} overlaps ${cells.get(k)}`);
          cells.set(k, p.title);
        }
      }
    }
  });

  it('every selector is filtered by $job and $instance, and by $conn where the metric has conn', () => {
    for (const q of queries) {
      const sels = selectors(q.target.expr);
      assert.ok(sels.length > 0, q.name);
      for (const s of sels) {
        const m = (label: string) => s.matchers.find((x) => x.label === label);
        assert.deepEqual(m('job'), { label: 'job', op: '=~', value: '$job' }, `${q.name}: ${s.metric} job`);
        assert.deepEqual(
          m('instance'),
          { label: 'instance', op: '=~', value: '$instance' },
          `${q.name}: ${s.metric} instance`,
        );
        if (familyLabels(s.metric ?? '')?.includes('conn')) {
          // Families whose conn is empty for what charon could not attach to a configured connection
          // may also match the empty conn, so that those series show whatever connection is selected.
          const values = CONN_MAY_BE_EMPTY.has(s.metric ?? '') ? ['$conn', '$conn|'] : ['$conn'];
          const c = m('conn');
          assert.ok(
            c?.op === '=~' && values.includes(c.value),
            `${q.name}: ${s.metric} conn ${JSON.stringify(c)}, wanted =~ ${values.join(' or ')}`,
          );
        }
      }
    }
  });

  it('ranges use Grafana intervals, rate() uses $__rate_interval, counters are only rated (linter rules)', () => {
    for (const q of queries) {
      for (const s of selectors(q.target.expr)) {
        if (s.range !== undefined) {
          assert.match(s.range, /^\$__(rate_interval|interval|range)$/, `${q.name}: hard-coded range`);
        }
        if (s.fn === 'rate' || s.fn === 'irate') {
          assert.equal(s.range, '$__rate_interval', `${q.name}: ${s.fn}() without $__rate_interval`);
        }
        if (s.metric?.endsWith('_total')) {
          assert.ok(
            s.range !== undefined && ['rate', 'irate', 'increase'].includes(s.fn ?? ''),
            `${q.name}: counter ${s.metric} not in rate/irate/increase`,
          );
        }
      }
    }
  });

  it('uses only metrics the exporter writes (or up)', () => {
    for (const q of queries) assert.deepEqual(unknownMetrics(q.target.expr, ['up']), [], q.name);
    for (const v of d.templating.list.filter((t) => t.type === 'query')) {
      const sel = /^label_values\((.*),\s*[a-z_]+\)$/.exec(variableQuery(v))?.[1] ?? '';
      assert.deepEqual(unknownMetrics(sel), [], v.name);
    }
  });

  it('covers the families that matter (the rest is listed in the test output)', (t) => {
    const used = new Set(queries.flatMap((q) => selectors(q.target.expr).map((s) => s.metric)));
    for (const must of [
      'strongswan_up',
      'strongswan_conn_up',
      'strongswan_conn_info',
      'strongswan_conn_child_bytes_total',
      'strongswan_child_sa_bytes_total',
      'strongswan_child_sa_rekey_timestamp_seconds',
      'strongswan_ike_sa_rekey_timestamp_seconds',
      'strongswan_cert_not_after_timestamp_seconds',
      'strongswan_daemon_worker_threads',
      'strongswan_daemon_job_queue_length',
      'strongswan_daemon_half_open_ike_sas',
      'strongswan_exporter_events_connected',
      'strongswan_exporter_collector_success',
      'strongswan_exporter_collector_duration_seconds',
      'strongswan_pool_leases',
      'strongswan_pool_addresses',
      'strongswan_ike_messages_total',
      'strongswan_ike_sa_events_total',
      'strongswan_child_sa_events_total',
      'strongswan_ike_sa_failures_total',
      'strongswan_alerts_total',
      'strongswan_ike_sa_info',
      'strongswan_user_up',
      'strongswan_user_bytes_total',
      'strongswan_user_virtual_ip_info',
      'strongswan_user_connected_timestamp_seconds',
      'strongswan_users_tracked',
      'strongswan_users_dropped_total',
    ]) {
      assert.ok(used.has(must), must);
    }
    const unused = ALL_FAMILIES.filter((f) => f.set !== 'seed' && !used.has(f.name)).map((f) => f.name);
    t.diagnostic(`standard families not on the dashboard: ${unused.join(', ')}`);
  });

  it('every query parses (promtool check rules on the queries with the variables substituted)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dashboard-promql-'));
    try {
      const sel = { job: 'strongswan', instance: '127\\\\.0\\\\.0\\\\.1:9814', conn: 'site' };
      const rules = queries.map((q, i) => ({
        record: `dashboard:query_${i}:check`,
        expr: substitute(q.target.expr, sel),
      }));
      const file = path.join(dir, 'queries.yml');
      fs.writeFileSync(file, YAML.stringify({ groups: [{ name: 'dashboard', rules }] }));
      const r = spawnSync(process.env.PROMTOOL ?? '/usr/bin/promtool', ['check', 'rules', file], {
        encoding: 'utf8',
        timeout: 60_000,
      });
      assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
      assert.match(r.stdout, new RegExp(`SUCCESS: ${rules.length} rules found`));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('knows every family name it checks against', () => {
    assert.ok(FAMILY_NAMES.has('strongswan_up'));
  });
});
