// The labels strongSwan 6 and road-warrior SAs add to strongswan_ike_sa_info, strongswan_child_sa_info
// and strongswan_conn_info, read from the real captures of the lab (test/fixtures/strongswan6: gw1 as
// the EAP concentrator of `rw` and user 1's side, on 5.9.8, 6.0.1 and 6.1.0), plus the 6.0.2+ keys
// the lab cannot produce (if ids, marks, per-CPU SAs, IKEv1 XAuth ids), shaped as vici_query.c writes them.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { FIXTURES } from '../../test/fake-charon/fixtures.js';
import { FakeCharon } from '../../test/fake-charon/server.js';
import { type Parsed, parseExposition, select } from '../../test/helpers/exposition.js';
import { quietLog, VERSION_REPLY } from '../../test/helpers/scrape.js';
import { ViciClient, type ViciInput, type ViciSection } from '../vici/index.js';
import { DEFAULT_OPTIONS, runScrape } from './collector.js';
import { conns } from './conns.js';
import { sas } from './sas.js';

/** The messages of one capture (`{"_capture": ..., "data": [message, ...]}`). */
function capture(file: string): ViciSection[] {
  const raw = fs.readFileSync(path.join(FIXTURES, 'strongswan6', file), 'utf8');
  return (JSON.parse(raw) as { data: ViciSection[] }).data;
}

/** One scrape of sas and conns against a FakeCharon listing `sasMsgs` and `connMsgs`. */
async function scrape(
  version: string,
  sasMsgs: readonly ViciSection[],
  connMsgs: readonly ViciSection[],
  hideRemoteIdentities = false,
): Promise<Parsed> {
  const fake = new FakeCharon()
    .on('version', () => ({ response: { ...VERSION_REPLY, version } }))
    .on('list-sas', () => ({
      events: sasMsgs.map((m) => ({ name: 'list-sa', message: m as ViciInput })),
      response: {},
    }))
    .on('list-conns', () => ({
      events: connMsgs.map((m) => ({ name: 'list-conn', message: m as ViciInput })),
      response: {},
    }));
  const client = new ViciClient({ address: await fake.listenUnix(), timeoutMs: 2000 });
  try {
    const r = await runScrape(client, [sas, conns], 2000, quietLog, Date.now, {
      ...DEFAULT_OPTIONS,
      hideRemoteIdentities,
    });
    return parseExposition(r.exposition.text('prometheus'));
  } finally {
    client.close();
    await fake.close();
  }
}

/** The labels of the one sample of `name` matching `match`. */
function labelsOf(p: Parsed, name: string, match: Record<string, string>): Record<string, string> {
  const s = select(p, name, match);
  assert.equal(s.length, 1, `${name} ${JSON.stringify(match)}: ${s.length} samples`);
  return s[0]?.labels as Record<string, string>;
}

/** The given labels of a sample, for a deepEqual that names only what the test is about. */
function pick(l: Record<string, string>, keys: readonly string[]): Record<string, string> {
  return Object.fromEntries(keys.map((k) => [k, l[k] as string]));
}

const IKE_NEW = [
  'dh_group',
  'additional_key_exchanges',
  'remote_id',
  'remote_eap_id',
  'remote_xauth_id',
  'local_vips',
  'remote_vips',
  'if_id_in',
  'if_id_out',
] as const;
const CHILD_NEW = [
  'dh_group',
  'additional_key_exchanges',
  'if_id_in',
  'if_id_out',
  'mark_in',
  'mark_out',
  'cpu',
] as const;

describe('strongSwan 6 and road-warrior labels from the lab captures', () => {
  const cases = [
    { version: '5.9.8', dh: 'ECP_256', ake: '' },
    { version: '6.0.1', dh: 'CURVE_25519', ake: 'ECP_384' },
    { version: '6.1.0', dh: 'CURVE_25519', ake: 'ML_KEM_768' },
  ];
  for (const { version, dh, ake } of cases) {
    it(`${version}: gw1's road warriors with their EAP ids, virtual IPs and key exchanges`, async () => {
      const p = await scrape(
        version,
        capture(`${version}-gw1-list-sas-rw.json`),
        capture(`${version}-gw1-list-conns-rw.json`),
      );
      const users = [
        { ikeId: '6', n: 1 },
        { ikeId: '11', n: 2 },
        { ikeId: '7', n: 3 },
      ];
      for (const { ikeId, n } of users) {
        assert.deepEqual(
          pick(labelsOf(p, 'strongswan_ike_sa_info', { conn: 'rw', ike_id: ikeId }), IKE_NEW),
          {
            dh_group: dh,
            additional_key_exchanges: ake,
            remote_id: `192.168.252.${10 + n}`,
            remote_eap_id: `user${n}@sswlab`,
            remote_xauth_id: '',
            local_vips: '',
            remote_vips: `10.93.0.${n}`,
            if_id_in: '',
            if_id_out: '',
          },
          `user ${n}`,
        );
      }
      // The CHILD SA rekeyed (user 1's) made a key exchange of its own; those of IKE_AUTH did not.
      const none = { dh_group: '', additional_key_exchanges: '' };
      const empty = { if_id_in: '', if_id_out: '', mark_in: '', mark_out: '', cpu: '' };
      const rekeyed = version === '5.9.8' ? none : { dh_group: dh, additional_key_exchanges: ake };
      assert.deepEqual(pick(labelsOf(p, 'strongswan_child_sa_info', { child_id: '7' }), CHILD_NEW), {
        ...rekeyed,
        ...empty,
      });
      assert.deepEqual(pick(labelsOf(p, 'strongswan_child_sa_info', { child_id: '10' }), CHILD_NEW), {
        ...none,
        ...empty,
      });
      // list-conns has the ports from 6.0.3 on.
      const ports = version === '6.1.0' ? '500' : '';
      assert.deepEqual(
        pick(labelsOf(p, 'strongswan_conn_info', { conn: 'rw' }), ['local_port', 'remote_port']),
        { local_port: ports, remote_port: ports },
      );
    });

    it(`${version}: the road warrior's own side lists its virtual IP as local`, async () => {
      const p = await scrape(version, capture(`${version}-u1-list-sas.json`), []);
      assert.deepEqual(
        pick(labelsOf(p, 'strongswan_ike_sa_info', { conn: 'rw' }), [
          'remote_id',
          'remote_eap_id',
          'local_vips',
          'remote_vips',
          'additional_key_exchanges',
        ]),
        {
          remote_id: 'gw1.sswlab',
          remote_eap_id: '',
          local_vips: '10.93.0.1',
          remote_vips: '',
          additional_key_exchanges: ake,
        },
      );
    });
  }
});

/** An IKE SA of the 5.9.8 capture made into an IKEv1 one with an XAuth identity (no lab plugin for it). */
function xauthSa(): ViciSection {
  const [first] = capture('5.9.8-gw1-list-sas-rw.json');
  const rw = { ...((first as ViciSection).rw as ViciSection) };
  delete rw['remote-eap-id'];
  return { v1: { ...rw, uniqueid: '99', version: '1', 'remote-xauth-id': 'xuser@sswlab' } };
}

describe('--privacy.hide-remote-identities', () => {
  const listing = () => [...capture('6.1.0-gw1-list-sas-rw.json'), xauthSa()];
  const who = ['remote_host', 'remote_id', 'remote_eap_id', 'remote_xauth_id', 'remote_vips'];

  it('shows EAP and XAuth identities without it', async () => {
    const p = await scrape('6.1.0', listing(), []);
    assert.deepEqual(pick(labelsOf(p, 'strongswan_ike_sa_info', { ike_id: '6' }), who), {
      remote_host: '192.168.252.11',
      remote_id: '192.168.252.11',
      remote_eap_id: 'user1@sswlab',
      remote_xauth_id: '',
      remote_vips: '10.93.0.1',
    });
    assert.equal(
      labelsOf(p, 'strongswan_ike_sa_info', { conn: 'v1' }).remote_xauth_id,
      'xuser@sswlab',
      'the XAuth id of an IKEv1 SA',
    );
  });

  it('blanks them like the remote id, and keeps the pool addresses', async () => {
    const p = await scrape('6.1.0', listing(), [], true);
    for (const s of select(p, 'strongswan_ike_sa_info')) {
      assert.equal(s.labels.remote_id, '', `${s.labels.ike_id}: remote_id`);
      assert.equal(s.labels.remote_eap_id, '', `${s.labels.ike_id}: remote_eap_id`);
      assert.equal(s.labels.remote_xauth_id, '', `${s.labels.ike_id}: remote_xauth_id`);
    }
    assert.equal(select(p, 'strongswan_ike_sa_info').length, 4);
    assert.deepEqual(pick(labelsOf(p, 'strongswan_ike_sa_info', { ike_id: '6' }), who), {
      remote_host: '192.168.252.11',
      remote_id: '',
      remote_eap_id: '',
      remote_xauth_id: '',
      remote_vips: '10.93.0.1',
    });
  });
});

describe('strongSwan 6.0.2+ keys the lab cannot produce (as vici_query.c writes them)', () => {
  /** A CHILD SA of the 6.1.0 capture with `extra` keys added. */
  const child = (uniqueid: string, extra: Record<string, string>): ViciSection => {
    const [first] = capture('6.1.0-gw1-list-sas-rw.json');
    const rw = (first as ViciSection).rw as ViciSection;
    const base = (rw['child-sas'] as ViciSection)['rw-10'] as ViciSection;
    return { ...base, uniqueid, ...extra };
  };

  it('if ids, marks with and without mask, per-CPU SAs and their fallback, several key exchanges', async () => {
    const [first] = capture('6.1.0-gw1-list-sas-rw.json');
    const rw = (first as ViciSection).rw as ViciSection;
    const ike: ViciSection = {
      ...rw,
      'if-id-in': '00000042',
      'if-id-out': '00000043',
      ake2: 'ML_KEM_1024',
      'child-sas': {
        'rw-20': child('20', {
          'mark-in': '00000010',
          'mark-mask-in': '000000ff',
          'mark-out': '00000020',
          'if-id-in': '00000042',
          'if-id-out': '00000043',
          'per-cpu-sas': 'yes',
          cpu: '0',
        }),
        'rw-21': child('21', { 'per-cpu-sas': 'yes', cpu: '3' }),
        'rw-22': child('22', { 'per-cpu-sas': 'yes' }),
        'rw-23': child('23', { 'dh-group': 'CURVE_25519', ake1: 'ML_KEM_768', ake3: 'ECP_384' }),
      },
    };
    const p = await scrape('6.1.0', [{ rw: ike }], []);
    const info = labelsOf(p, 'strongswan_ike_sa_info', { ike_id: '11' });
    assert.deepEqual(pick(info, ['additional_key_exchanges', 'if_id_in', 'if_id_out']), {
      additional_key_exchanges: 'ML_KEM_768+ML_KEM_1024',
      if_id_in: '00000042',
      if_id_out: '00000043',
    });
    const c = (id: string) => pick(labelsOf(p, 'strongswan_child_sa_info', { child_id: id }), CHILD_NEW);
    assert.deepEqual(c('20'), {
      dh_group: '',
      additional_key_exchanges: '',
      if_id_in: '00000042',
      if_id_out: '00000043',
      mark_in: '00000010/000000ff',
      mark_out: '00000020',
      cpu: '0',
    });
    assert.equal(c('21').cpu, '3');
    assert.equal(c('22').cpu, 'any', 'the fallback SA of a per-CPU config');
    assert.deepEqual(pick(c('23'), ['dh_group', 'additional_key_exchanges', 'cpu']), {
      dh_group: 'CURVE_25519',
      additional_key_exchanges: 'ML_KEM_768+ECP_384',
      cpu: '',
    });
  });
});
