// The shipped dashboard and rules on the real lab: a real Prometheus scrapes the exporter every second
// with deploy/prometheus/rules.yml loaded; every panel query of deploy/grafana/strongswan.json, with
// the variables substituted as Grafana would, parses and returns data (a few documented exceptions
// aside); the variables' label_values() find the lab; the recording rules produce series. The exporter
// runs with --collector.users and three road-warrior users are up (lab.sh rw-up 3, user 1 sending
// traffic), one of them fails to authenticate once (rw-fail 2 auth), and certconn is reauthenticated
// (cert-validation-failed on 6.x, although it succeeds): on the lab no alert expression matches but
// StrongswanAuthenticationFailures for rw, from strongSwan 6.0.3 on (alerts), and when
// gw2's charon stops, StrongswanTunnelDown goes pending for the tunnels that were up, and not for
// the connection that never was. From strongSwan 6.1 on (ML-KEM in OpenSSL), the users' IKE and ESP
// proposals carry an additional ML-KEM key exchange, so the post-quantum share is not 0.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import YAML from 'yaml';
import { loadDashboard, panelQueries, regexQuote, type Selection, substitute } from '../deploy/dashboard.js';
import { type Child, promQuery, startExporter, startPrometheus, waitFor } from '../helpers/processes.js';
import { Lab, ROOT } from './lab.js';

const RULES = path.join(ROOT, 'deploy/prometheus/rules.yml');
const USERS = 3;
const AUTH_ALERT = 'StrongswanAuthenticationFailures';

/** Panel queries that may return nothing on the lab (with this connection selected), and why. */
function allowedEmpty(lab: Lab, conn: string): Record<string, string> {
  const allowed: Record<string, string> = {
    'Time until IKE SA rekey and reauthentication / B':
      "the lab's connections set no reauth_time, so charon schedules no reauthentication and " +
      'strongswan_ike_sa_reauth_timestamp_seconds has no series',
    'CRLs / A': "the lab's CA issues no CRL, so strongswan_crl_next_update_timestamp_seconds has no series",
  };
  if (conn === 'site') {
    allowed['Users by virtual IP pool / B'] =
      "site's peer (gw2) gets no virtual IP, so no strongswan_user_virtual_ip_info has conn=site";
  }
  // From 6.0.3 on, the lab provokes an alert (before() below), so the panel must have data.
  if (!lab.atLeast(6, 0, 3)) {
    allowed['Daemon alerts / A'] =
      `charon's alert event exists from strongSwan 6.0.3 on; the lab runs ${lab.env.LAB_STRONGSWAN_VERSION}, ` +
      'so strongswan_alerts_total has no series';
  }
  return allowed;
}

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
}

async function labelValues(url: string, label: string, match: string): Promise<string[]> {
  const r = await fetch(`${url}/api/v1/label/${label}/values?match[]=${encodeURIComponent(match)}`);
  const body = (await r.json()) as { status: string; data: string[] };
  assert.equal(body.status, 'success');
  return body.data;
}

describe('dashboard and rules on the real lab', { timeout: 240_000 }, () => {
  const lab = new Lab();
  let exporter: (Child & { url: string }) | undefined;
  let prom: (Child & { url: string; dir: string }) | undefined;
  let instance = '';
  const rules = (
    YAML.parse(fs.readFileSync(RULES, 'utf8')) as { groups: { rules: Rule[] }[] }
  ).groups.flatMap((g) => g.rules);

  before(async () => {
    lab.up();
    if (lab.atLeast(6, 1)) {
      lab.extraEnv.LAB_RW_PROPOSALS = 'aes256-sha256-x25519-ke1_mlkem768';
      lab.extraEnv.LAB_RW_ESP_PROPOSALS = 'aes256gcm16-x25519-ke1_mlkem768';
    }
    lab.lab('rw-up', String(USERS));
    exporter = await startExporter([
      '--vici.address',
      lab.vici('gw1'),
      '--vici.timeout',
      '3s',
      '--collector.users',
    ]);
    instance = exporter.url.replace('http://', '');
    prom = await startPrometheus([instance], `rule_files:\n  - '${RULES}'\n`);
    const p = prom;
    const scrapes = async () =>
      Number((await promQuery(p.url, 'count_over_time(strongswan_up[1m])'))[0]?.value[1] ?? 0);
    await waitFor('three scrapes', async () => (await scrapes()) >= 3, 30_000);
    if (lab.atLeast(6, 0, 3)) lab.proposalMismatch();
    lab.lab('rw-fail', '2', 'auth');
    // gw1 checks gw2's certificate again, successfully: 6.x raises cert-validation-failed all the same
    // (the lab has no CRL), which StrongswanAuthenticationFailures must not count.
    lab.swanctl('gw1', '--rekey', '--ike', 'certconn', '--reauth');
    lab.lab('traffic', '3');
    lab.lab('rw-traffic', '1', '5');
    await waitFor('traffic seen by two more scrapes', async () => (await scrapes()) >= 6, 30_000);
  });

  after(async () => {
    await prom?.stop();
    await exporter?.stop();
    lab.down();
  });

  it("the variables' label_values() queries find the lab", async () => {
    const url = prom?.url as string;
    assert.deepEqual(await labelValues(url, 'job', 'strongswan_up'), ['strongswan']);
    assert.deepEqual(await labelValues(url, 'instance', 'strongswan_up{job=~"strongswan"}'), [instance]);
    const conns = await labelValues(
      url,
      'conn',
      `strongswan_conn_info{job=~"strongswan", instance=~"${regexQuote(instance)}"}`,
    );
    for (const c of ['site', 'never', 'rw']) assert.ok(conns.includes(c), conns.join(','));
  });

  for (const conn of ['site', '.+']) {
    it(`every panel query returns data (conn=${conn})`, async (t) => {
      const url = prom?.url as string;
      const sel: Selection = {
        job: 'strongswan',
        instance: regexQuote(instance),
        conn,
        rateInterval: '1m',
        interval: '15s',
        range: '5m',
      };
      const queries = panelQueries(loadDashboard());
      const ALLOWED_EMPTY = allowedEmpty(lab, conn);
      for (const name of Object.keys(ALLOWED_EMPTY)) {
        assert.ok(
          queries.some((q) => q.name === name),
          `ALLOWED_EMPTY names a query that does not exist: ${name}`,
        );
      }
      const empty: string[] = [];
      const t0 = Date.now();
      for (const q of queries) {
        const expr = substitute(q.target.expr, sel);
        const result = await promQuery(url, expr); // throws on a parse error
        if (result.length === 0 && ALLOWED_EMPTY[q.name] === undefined) empty.push(`${q.name}: ${expr}`);
        if (result.length > 0 && ALLOWED_EMPTY[q.name] !== undefined) {
          t.diagnostic(`allowed to be empty but has data now (drop the exception?): ${q.name}`);
        }
      }
      t.diagnostic(`${queries.length} queries in ${Date.now() - t0} ms`);
      assert.deepEqual(empty, [], 'panel queries without data');
    });
  }

  it('the road-warrior, post-quantum and failed-attempt panels show what the lab is', async () => {
    const url = prom?.url as string;
    // The failed attempt and user 1's pings happened in before(): a range that covers them.
    const sel: Selection = {
      job: 'strongswan',
      instance: regexQuote(instance),
      conn: '.+',
      rateInterval: '2m',
    };
    const query = (title: string, ref = 'A') => {
      const q = panelQueries(loadDashboard()).find((x) => x.name === `${title} / ${ref}`);
      assert.ok(q, title);
      return promQuery(url, substitute(q.target.expr, sel));
    };
    const value = (
      v: { metric: Record<string, string>; value: [number, string] }[],
      label: string,
      is: string,
    ) => Number(v.find((x) => x.metric[label] === is)?.value[1]);
    const users = await query('Users connected');
    assert.equal(value(users, 'conn', 'rw'), USERS, JSON.stringify(users));
    assert.equal(value(await query('Users by virtual IP pool'), 'pool', 'rw_pool'), USERS);
    assert.equal(value(await query('Users by virtual IP pool', 'B'), 'pool', 'rw_pool'), USERS);
    // The users collector also tracks the site-to-site peers (site, certconn), one user each.
    assert.ok(Number((await query('Users tracked / dropped'))[0]?.value[1]) >= USERS);
    assert.equal(Number((await query('Users tracked / dropped', 'B'))[0]?.value[1]), 0, 'nobody dropped');
    const table = (await query('Connected users')).filter((v) => v.metric.conn === 'rw');
    assert.deepEqual(
      table.map((v) => `${v.metric.user} ${v.metric.vip}`).sort(),
      Array.from({ length: USERS }, (_, i) => `user${i + 1}@sswlab 10.93.0.${i + 1}`),
    );
    assert.ok(
      table.every((v) => Number(v.value[1]) >= 0),
      'connected for',
    );
    const top = await query('Top users by traffic');
    assert.ok(value(top, 'user', 'user1@sswlab') > 0, `user 1 sent pings: ${JSON.stringify(top)}`);
    const failed = await query('IKE SA failed attempts');
    assert.ok(value(failed, 'conn', 'rw') >= 1, `rw-fail 2 auth: ${JSON.stringify(failed)}`);
    // ML-KEM in the users' proposals from 6.1 on: their IKE SAs, and no other, are post-quantum.
    const ikeSas = Number((await promQuery(url, 'count(strongswan_ike_sa_info)'))[0]?.value[1]);
    const share = Number((await query('Post-quantum IKE SAs'))[0]?.value[1]);
    assert.equal(share, lab.atLeast(6, 1) ? USERS / ikeSas : 0, `${ikeSas} IKE SAs`);
  });

  it('the panels show what the lab is: site up with traffic on both children, never down', async () => {
    const url = prom?.url as string;
    const sel: Selection = { job: 'strongswan', instance: regexQuote(instance), conn: '.+' };
    const byTitle = (title: string, ref = 'A') => {
      const q = panelQueries(loadDashboard()).find((x) => x.name === `${title} / ${ref}`);
      assert.ok(q, title);
      return substitute(q.target.expr, sel);
    };
    const one = async (title: string, ref = 'A') =>
      Number((await promQuery(url, byTitle(title, ref)))[0]?.value[1]);
    assert.ok((await one('Connections up / configured', 'A')) >= 1);
    assert.ok((await one('Connections up / configured', 'B')) >= 2);
    assert.ok((await one('Connections down')) >= 1, 'never is down');
    assert.ok((await one('Earliest certificate expiry')) > 86400, 'the lab certificates are valid for days');
    assert.equal(await one('Pool usage'), USERS / 14, 'the users lease from rw_pool (14 addresses)');
    const traffic = await promQuery(url, byTitle('Traffic per child'));
    for (const child of ['net1', 'net2']) {
      for (const direction of ['in', 'out']) {
        const s = traffic.find(
          (v) => v.metric.conn === 'site' && v.metric.child === child && v.metric.direction === direction,
        );
        assert.ok(s && Number(s.value[1]) > 0, `${child} ${direction}: ${JSON.stringify(traffic)}`);
      }
    }
    const rekey = await promQuery(url, byTitle('Time until CHILD SA rekey'));
    assert.ok(rekey.length >= 2 && rekey.every((v) => Number(v.value[1]) > 0), JSON.stringify(rekey));
  });

  it('the recording rules produce series from the lab', async () => {
    const url = prom?.url as string;
    for (const r of rules.filter((x) => x.record !== undefined)) {
      const name = r.record as string;
      await waitFor(`recording rule ${name}`, async () => (await promQuery(url, name)).length > 0, 15_000);
    }
    const perConn = await promQuery(url, 'instance_conn:strongswan_conn_child_bytes:rate5m{conn="site"}');
    assert.deepEqual(perConn.map((v) => v.metric.direction).sort(), ['in', 'out']);
  });

  it('no alert expression matches on the lab but the authentication failures of rw (6.0.3 and later)', async () => {
    const url = prom?.url as string;
    // rw-fail 2 auth raised peer-auth-failed on gw1 for rw; certconn's reauthentication succeeded with
    // cert-validation-failed (no revocation information), which must not count.
    const alerts = lab.atLeast(6, 0, 3);
    const certAlerts = await promQuery(
      url,
      'strongswan_alerts_total{conn="certconn", alert="cert-validation-failed"} > 0 and on (instance) strongswan_conn_up{conn="certconn"} == 1',
    );
    assert.equal(certAlerts.length, alerts ? 1 : 0, 'cert-validation-failed on a successful authentication');
    for (const r of rules.filter((x) => x.alert !== undefined)) {
      const matched = (await promQuery(url, r.expr)).map((v) => `${v.metric.conn} ${v.value[1]}`);
      assert.deepEqual(matched, r.alert === AUTH_ALERT && alerts ? ['rw 1'] : [], r.alert);
    }
    const pending = (await promQuery(url, 'ALERTS')).map(
      (v) => `${v.metric.alertname} ${v.metric.alertstate} ${v.metric.conn}`,
    );
    assert.deepEqual(pending, alerts ? [`${AUTH_ALERT} pending rw`] : []);
  });

  it("stopping gw2's charon takes site down on gw1: StrongswanTunnelDown goes pending, not for never", async () => {
    const url = prom?.url as string;
    lab.lab('stop-charon', 'gw2');
    const pending = async () =>
      (await promQuery(url, 'ALERTS{alertname="StrongswanTunnelDown", alertstate="pending"}')).map(
        (v) => v.metric.conn,
      );
    await waitFor(
      'StrongswanTunnelDown pending for site',
      async () => (await pending()).includes('site'),
      30_000,
    );
    const conns = await pending();
    assert.ok(!conns.includes('never'), conns.join(','));
    const tunnelDown = rules.find((r) => r.alert === 'StrongswanTunnelDown') as Rule;
    const matched = (await promQuery(url, tunnelDown.expr)).map((v) => v.metric.conn);
    assert.ok(matched.includes('site') && !matched.includes('never'), matched.join(','));
    // The whole connection is down, so the child alert stays quiet.
    const childMissing = rules.find((r) => r.alert === 'StrongswanChildSAMissing') as Rule;
    const children = await promQuery(url, childMissing.expr);
    assert.deepEqual(
      children.filter((v) => v.metric.conn === 'site'),
      [],
    );
  });
});
