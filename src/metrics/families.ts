// Every metric family the exporter writes, defined once: name, type, help, labels, owning collector,
// and whether it belongs to the seed-compatible set (names kept exactly as the seed exporter had them)
// or the standard set (Prometheus naming conventions). Metric names appear as literals only here.

export type FamilyType = 'gauge' | 'counter';
export type MetricSet = 'standard' | 'seed' | 'exporter';

export interface Family {
  readonly name: string;
  readonly type: FamilyType;
  readonly help: string;
  readonly labels: readonly string[];
  /** The collector that writes it ('exporter' for the exporter's own metrics). */
  readonly collector: string;
  readonly set: MetricSet;
  /** For seed families: the standard family that carries the same information. */
  readonly standard?: string;
  /** Its place in the definition order (the order of the text): expositions find its lines by it. */
  readonly ordinal: number;
}

const IKE = ['conn', 'ike_id'] as const;
const CHILD = ['conn', 'ike_id', 'child', 'child_id'] as const;
const SEED_IKE = ['name', 'uniqueid'] as const;
const SEED_CHILD = ['ike_name', 'ike_id', 'child_name', 'child_id'] as const;
const SEED_TS = [...SEED_CHILD, 'localTS', 'remoteTS'] as const;
const SEED_ALG = ['algorithm', 'dh_group'] as const;

/** Every family, numbered in the order of definition (the order of the text). */
function define() {
  let defined = 0;
  const std = (
    collector: string,
    name: string,
    type: FamilyType,
    labels: readonly string[],
    help: string,
  ): Family => ({
    name,
    type,
    help,
    labels,
    collector,
    set: collector === 'exporter' ? 'exporter' : 'standard',
    ordinal: defined++,
  });
  const seed = (name: string, labels: readonly string[], help: string, standard: string): Family => ({
    name,
    type: 'gauge',
    help,
    labels,
    collector: 'seed',
    set: 'seed',
    standard,
    ordinal: defined++,
  });

  return {
    // --- the exporter itself (written on every scrape, whatever collectors are enabled) ---
    up: std(
      'exporter',
      'strongswan_up',
      'gauge',
      [],
      'Whether the daemon answered this scrape over VICI (1) or not (0).',
    ),
    buildInfo: std(
      'exporter',
      'strongswan_exporter_build_info',
      'gauge',
      ['version', 'nodejs_version'],
      'The exporter version and the Node.js version it runs on; value 1.',
    ),
    collectorDuration: std(
      'exporter',
      'strongswan_exporter_collector_duration_seconds',
      'gauge',
      ['collector'],
      'How long each collector took in this scrape.',
    ),
    collectorSuccess: std(
      'exporter',
      'strongswan_exporter_collector_success',
      'gauge',
      ['collector'],
      'Whether each collector succeeded in this scrape (1) or not (0).',
    ),

    // --- standard set: IKE SAs (list-sas) ---
    ikeSaInfo: std(
      'sas',
      'strongswan_ike_sa_info',
      'gauge',
      [
        ...IKE,
        'version',
        'local_host',
        'local_id',
        'remote_host',
        'remote_id',
        'initiator',
        'encr_alg',
        'encr_keysize',
        'integ_alg',
        'integ_keysize',
        'prf_alg',
        'dh_group',
        'additional_key_exchanges',
        'remote_eap_id',
        'remote_xauth_id',
        'local_vips',
        'remote_vips',
        'if_id_in',
        'if_id_out',
      ],
      'An IKE SA (list-sas: version, local-host, local-id, remote-host, remote-id, initiator, encr-alg, encr-keysize, integ-alg, integ-keysize, prf-alg, dh-group; additional_key_exchanges: ake1 ... ake7 of strongSwan 6, joined with +; remote-eap-id, remote-xauth-id where they differ from remote-id; local-vips, remote-vips joined with a comma; if-id-in, if-id-out in hex); value 1.',
    ),
    ikeSaState: std(
      'sas',
      'strongswan_ike_sa_state',
      'gauge',
      [...IKE, 'state'],
      'The state of an IKE SA (list-sas: state); one series per SA with its current state, value 1.',
    ),
    ikeSaEstablished: std(
      'sas',
      'strongswan_ike_sa_established_timestamp_seconds',
      'gauge',
      IKE,
      'When an IKE SA was established (scrape time minus list-sas: established).',
    ),
    ikeSaRekey: std(
      'sas',
      'strongswan_ike_sa_rekey_timestamp_seconds',
      'gauge',
      IKE,
      'When an IKE SA is scheduled to be rekeyed (scrape time plus list-sas: rekey-time).',
    ),
    ikeSaReauth: std(
      'sas',
      'strongswan_ike_sa_reauth_timestamp_seconds',
      'gauge',
      IKE,
      'When an IKE SA is scheduled to be reauthenticated (scrape time plus list-sas: reauth-time).',
    ),
    ikeSaChildSas: std(
      'sas',
      'strongswan_ike_sa_child_sas',
      'gauge',
      IKE,
      'CHILD SAs of an IKE SA (list-sas: child-sas).',
    ),

    // --- standard set: CHILD SAs (list-sas, child-sas sections) ---
    childSaInfo: std(
      'sas',
      'strongswan_child_sa_info',
      'gauge',
      [
        ...CHILD,
        'mode',
        'protocol',
        'encap',
        'reqid',
        'spi_in',
        'spi_out',
        'local_ts',
        'remote_ts',
        'encr_alg',
        'encr_keysize',
        'integ_alg',
        'integ_keysize',
        'dh_group',
        'additional_key_exchanges',
        'if_id_in',
        'if_id_out',
        'mark_in',
        'mark_out',
        'cpu',
      ],
      'A CHILD SA (list-sas child-sas: mode, protocol, encap, reqid, spi-in, spi-out, local-ts, remote-ts, encr-alg, encr-keysize, integ-alg, integ-keysize, dh-group; additional_key_exchanges: ake1 ... ake7 of strongSwan 6, joined with +; if-id-in, if-id-out in hex; mark-in, mark-out in hex with /mark-mask-in, /mark-mask-out where charon lists a mask; cpu: the cpu of a per-CPU SA, any for the fallback SA of a child config with per-cpu-sas, strongSwan 6.0.2 and later); value 1.',
    ),
    childSaState: std(
      'sas',
      'strongswan_child_sa_state',
      'gauge',
      [...CHILD, 'state'],
      'The state of a CHILD SA (list-sas child-sas: state); one series per SA with its current state, value 1.',
    ),
    childSaBytes: std(
      'sas',
      'strongswan_child_sa_bytes_total',
      'counter',
      [...CHILD, 'direction'],
      'Bytes through a CHILD SA since it was installed (list-sas child-sas: bytes-in, bytes-out); restarts at 0 with each rekey.',
    ),
    childSaPackets: std(
      'sas',
      'strongswan_child_sa_packets_total',
      'counter',
      [...CHILD, 'direction'],
      'Packets through a CHILD SA since it was installed (list-sas child-sas: packets-in, packets-out); restarts at 0 with each rekey.',
    ),
    childSaLastPacket: std(
      'sas',
      'strongswan_child_sa_last_packet_timestamp_seconds',
      'gauge',
      [...CHILD, 'direction'],
      'When a CHILD SA last passed a packet (scrape time minus list-sas child-sas: use-in, use-out).',
    ),
    childSaInstalled: std(
      'sas',
      'strongswan_child_sa_installed_timestamp_seconds',
      'gauge',
      CHILD,
      'When a CHILD SA was installed (scrape time minus list-sas child-sas: install-time).',
    ),
    childSaRekey: std(
      'sas',
      'strongswan_child_sa_rekey_timestamp_seconds',
      'gauge',
      CHILD,
      'When a CHILD SA is scheduled to be rekeyed (scrape time plus list-sas child-sas: rekey-time).',
    ),
    childSaExpire: std(
      'sas',
      'strongswan_child_sa_expire_timestamp_seconds',
      'gauge',
      CHILD,
      'When a CHILD SA hard-expires (scrape time plus list-sas child-sas: life-time).',
    ),

    // --- standard set: configured connections (list-conns, joined with list-sas) ---
    connInfo: std(
      'conns',
      'strongswan_conn_info',
      'gauge',
      ['conn', 'version', 'local_addrs', 'remote_addrs', 'local_port', 'remote_port'],
      'A configured connection (list-conns: version, local_addrs, remote_addrs; local_port, remote_port of strongSwan 6.0.3 and later); value 1.',
    ),
    connUp: std(
      'conns',
      'strongswan_conn_up',
      'gauge',
      ['conn'],
      'Whether a configured connection (list-conns) has an ESTABLISHED IKE SA (list-sas: state).',
    ),
    connChildUp: std(
      'conns',
      'strongswan_conn_child_up',
      'gauge',
      ['conn', 'child'],
      'Whether a configured child (list-conns: children) has an INSTALLED CHILD SA (list-sas child-sas: state).',
    ),
    connIkeSas: std(
      'conns',
      'strongswan_conn_ike_sas',
      'gauge',
      ['conn'],
      'IKE SAs, in any state, of a configured connection (list-conns joined with list-sas).',
    ),

    // --- event-driven: a long-lived subscription (collector events) ---
    eventsConnected: std(
      'events',
      'strongswan_exporter_events_connected',
      'gauge',
      [],
      'Whether the event subscription (ike-updown, child-updown, ike-rekey, child-rekey, alert) is connected to the daemon.',
    ),
    ikeSaEvents: std(
      'events',
      'strongswan_ike_sa_events_total',
      'counter',
      ['conn', 'event'],
      'IKE SA events since the exporter started (ike-updown: up, down; ike-rekey: rekey); those missed while the subscription was away are counted from the listings.',
    ),
    ikeSaFailures: std(
      'events',
      'strongswan_ike_sa_failures_total',
      'counter',
      ['conn'],
      'IKE SAs that never got established (rejected proposal, failed authentication, unreachable peer: an ike-updown down while CONNECTING) since the exporter started; conn is empty when the daemon had chosen no connection yet. Not a down: strongswan_ike_sa_events_total counts SAs that were up.',
    ),
    childSaEvents: std(
      'events',
      'strongswan_child_sa_events_total',
      'counter',
      ['conn', 'child', 'event'],
      'CHILD SA events since the exporter started (child-updown: up, down; child-rekey: rekey); those missed while the subscription was away are counted from the listings.',
    ),
    alerts: std(
      'events',
      'strongswan_alerts_total',
      'counter',
      ['conn', 'alert'],
      'Alerts raised by the daemon since the exporter started (alert event: type; strongSwan 6.0.3 and later), by the connection of the IKE SA the alert names (empty when it names none, or charon had chosen no connection for it yet).',
    ),
    connChildBytes: std(
      'events',
      'strongswan_conn_child_bytes_total',
      'counter',
      ['conn', 'child', 'direction'],
      'Bytes through all CHILD SAs of a child config since the exporter first listed them (its first scrape; with a state directory, that of its first start), across rekeys and reconnects (final bytes-in/bytes-out of finished SAs from child-updown, child-rekey and earlier scrapes, plus list-sas of the live ones); what an SA passed before the exporter first saw it is not added. See the limits in the README.',
    ),
    connChildPackets: std(
      'events',
      'strongswan_conn_child_packets_total',
      'counter',
      ['conn', 'child', 'direction'],
      'Packets through all CHILD SAs of a child config, counted as strongswan_conn_child_bytes_total (from packets-in/packets-out).',
    ),

    // --- seed-compatible set: the seed exporter's names, labels and relative values, kept exactly ---
    seedKnownIkes: seed(
      'strongswan_number_of_known_ikes',
      [],
      'Number of known IKEs: IKE SAs plus configured connections without any (list-sas, list-conns).',
      'strongswan_conn_ike_sas',
    ),
    seedIkesConnected: seed(
      'strongswan_number_of_ikes_connected',
      [],
      'Number of IKE SAs the daemon lists (list-sas), 0 when it cannot be reached.',
      'strongswan_ike_sa_state',
    ),
    seedIkeVersion: seed(
      'strongswan_ike_version',
      SEED_IKE,
      'IKE version of this IKE SA (list-sas: version).',
      'strongswan_ike_sa_info',
    ),
    seedIkeState: seed(
      'strongswan_ike_state',
      SEED_IKE,
      'Whether this IKE SA is ESTABLISHED (list-sas: state); 0 for a configured connection without IKE SA (uniqueid "").',
      'strongswan_conn_up',
    ),
    seedIkeInitiator: seed(
      'strongswan_ike_initiator',
      SEED_IKE,
      'Whether the local side initiated this IKE SA (list-sas: initiator).',
      'strongswan_ike_sa_info',
    ),
    seedIkeNatRemote: seed(
      'strongswan_ike_nat_remote',
      SEED_IKE,
      'Whether the remote peer is behind NAT (list-sas: nat-remote).',
      'strongswan_ike_sa_info',
    ),
    seedIkeNatFake: seed(
      'strongswan_ike_nat_fake',
      SEED_IKE,
      'Whether NAT is faked to float to port 4500 (list-sas: nat-fake).',
      'strongswan_ike_sa_info',
    ),
    seedIkeEncKeysize: seed(
      'strongswan_ike_encryption_keysize',
      [...SEED_IKE, ...SEED_ALG],
      'Key size in bits of the IKE encryption algorithm (list-sas: encr-keysize, encr-alg, dh-group).',
      'strongswan_ike_sa_info',
    ),
    seedIkeIntegKeysize: seed(
      'strongswan_ike_integrity_keysize',
      [...SEED_IKE, ...SEED_ALG],
      'Key size in bits of the IKE integrity algorithm (list-sas: integ-keysize, integ-alg, dh-group).',
      'strongswan_ike_sa_info',
    ),
    seedIkeEstablished: seed(
      'strongswan_ike_established_second',
      SEED_IKE,
      'Seconds since the IKE SA was established (list-sas: established).',
      'strongswan_ike_sa_established_timestamp_seconds',
    ),
    seedIkeRekey: seed(
      'strongswan_ike_rekey_second',
      SEED_IKE,
      'Seconds until the IKE SA is rekeyed (list-sas: rekey-time).',
      'strongswan_ike_sa_rekey_timestamp_seconds',
    ),
    seedIkeReauth: seed(
      'strongswan_ike_reauth_second',
      SEED_IKE,
      'Seconds until the IKE SA is reauthenticated (list-sas: reauth-time).',
      'strongswan_ike_sa_reauth_timestamp_seconds',
    ),
    seedIkeChildren: seed(
      'strongswan_ike_children',
      SEED_IKE,
      'Number of CHILD SAs of this IKE SA (list-sas: child-sas).',
      'strongswan_ike_sa_child_sas',
    ),
    seedSaState: seed(
      'strongswan_sa_state',
      SEED_TS,
      'Whether this CHILD SA is INSTALLED (list-sas child-sas: state).',
      'strongswan_child_sa_state',
    ),
    seedSaEncap: seed(
      'strongswan_sa_encap',
      SEED_CHILD,
      'Whether this CHILD SA is UDP-encapsulated (list-sas child-sas: encap).',
      'strongswan_child_sa_info',
    ),
    seedSaEncKeysize: seed(
      'strongswan_sa_encryption_keysize',
      [...SEED_CHILD, ...SEED_ALG],
      'Key size in bits of the CHILD SA encryption algorithm (list-sas child-sas: encr-keysize, encr-alg, dh-group).',
      'strongswan_child_sa_info',
    ),
    seedSaIntegKeysize: seed(
      'strongswan_sa_integrity_keysize',
      [...SEED_CHILD, ...SEED_ALG],
      'Key size in bits of the CHILD SA integrity algorithm (list-sas child-sas: integ-keysize, integ-alg, dh-group).',
      'strongswan_child_sa_info',
    ),
    seedSaBytesIn: seed(
      'strongswan_sa_bytes_inbound',
      SEED_TS,
      'Bytes received on this CHILD SA (list-sas child-sas: bytes-in).',
      'strongswan_child_sa_bytes_total',
    ),
    seedSaPacketsIn: seed(
      'strongswan_sa_packets_inbound',
      SEED_TS,
      'Packets received on this CHILD SA (list-sas child-sas: packets-in).',
      'strongswan_child_sa_packets_total',
    ),
    seedSaLastIn: seed(
      'strongswan_sa_last_inbound_seconds',
      SEED_TS,
      'Seconds since the last inbound packet (list-sas child-sas: use-in).',
      'strongswan_child_sa_last_packet_timestamp_seconds',
    ),
    seedSaBytesOut: seed(
      'strongswan_sa_bytes_outbound',
      SEED_TS,
      'Bytes sent on this CHILD SA (list-sas child-sas: bytes-out).',
      'strongswan_child_sa_bytes_total',
    ),
    seedSaPacketsOut: seed(
      'strongswan_sa_packets_outbound',
      SEED_TS,
      'Packets sent on this CHILD SA (list-sas child-sas: packets-out).',
      'strongswan_child_sa_packets_total',
    ),
    seedSaLastOut: seed(
      'strongswan_sa_last_outbound_seconds',
      SEED_TS,
      'Seconds since the last outbound packet (list-sas child-sas: use-out).',
      'strongswan_child_sa_last_packet_timestamp_seconds',
    ),
    seedSaEstablished: seed(
      'strongswan_sa_established_second',
      SEED_CHILD,
      'Seconds since the CHILD SA was installed (list-sas child-sas: install-time).',
      'strongswan_child_sa_installed_timestamp_seconds',
    ),
    seedSaRekey: seed(
      'strongswan_sa_rekey_second',
      SEED_CHILD,
      'Seconds until the CHILD SA is rekeyed (list-sas child-sas: rekey-time).',
      'strongswan_child_sa_rekey_timestamp_seconds',
    ),
    seedSaLifetime: seed(
      'strongswan_sa_lifetime_second',
      SEED_CHILD,
      'Seconds until the CHILD SA hard-expires (list-sas child-sas: life-time).',
      'strongswan_child_sa_expire_timestamp_seconds',
    ),

    // --- daemon coverage: version, stats, pools, certs, counters, policies ---
    info: std(
      'version',
      'strongswan_info',
      'gauge',
      ['daemon', 'version', 'sysname', 'release', 'machine'],
      'The daemon and the system it runs on (version: daemon, version, sysname, release, machine); value 1.',
    ),
    daemonStartTime: std(
      'stats',
      'strongswan_daemon_start_time_seconds',
      'gauge',
      [],
      "When the daemon started, seconds since the epoch (stats: uptime.since, which is the daemon host's local time without a zone, read here as local time of the exporter host: set TZ to the daemon's zone when they differ).",
    ),
    daemonIkeSas: std(
      'stats',
      'strongswan_daemon_ike_sas',
      'gauge',
      [],
      'IKE SAs in the IKE SA manager, in any state (stats: ikesas.total).',
    ),
    daemonHalfOpenIkeSas: std(
      'stats',
      'strongswan_daemon_half_open_ike_sas',
      'gauge',
      [],
      'Half-open IKE SAs (stats: ikesas.half-open).',
    ),
    daemonWorkerThreads: std(
      'stats',
      'strongswan_daemon_worker_threads',
      'gauge',
      ['state'],
      'Worker threads by state: idle, or busy with a job of priority critical, high, medium or low (stats: workers.idle, workers.active.critical, .high, .medium, .low).',
    ),
    daemonWorkerPoolThreads: std(
      'stats',
      'strongswan_daemon_worker_pool_threads',
      'gauge',
      [],
      'Threads in the worker pool, idle and busy (stats: workers.total).',
    ),
    daemonJobQueueLength: std(
      'stats',
      'strongswan_daemon_job_queue_length',
      'gauge',
      ['priority'],
      'Jobs waiting for a worker thread, by priority (stats: queues.critical, .high, .medium, .low).',
    ),
    daemonScheduledJobs: std(
      'stats',
      'strongswan_daemon_scheduled_jobs',
      'gauge',
      [],
      'Jobs scheduled to run later (stats: scheduled).',
    ),
    daemonPluginInfo: std(
      'stats',
      'strongswan_daemon_plugin_info',
      'gauge',
      ['plugin'],
      'A plugin the daemon has loaded (stats: plugins); value 1.',
    ),
    daemonMallocBytes: std(
      'stats',
      'strongswan_daemon_malloc_bytes',
      'gauge',
      ['kind'],
      'The daemon heap as malloc reports it, where the daemon has mallinfo (stats: mallinfo.sbrk, .mmap, .used, .free).',
    ),
    poolAddresses: std(
      'pools',
      'strongswan_pool_addresses',
      'gauge',
      ['pool'],
      'Addresses in a virtual IP pool loaded over VICI (get-pools: size).',
    ),
    poolLeases: std(
      'pools',
      'strongswan_pool_leases',
      'gauge',
      ['pool', 'state'],
      'Leases of a virtual IP pool: online (in use) or offline (kept for a reconnect) (get-pools: online, offline).',
    ),
    certs: std(
      'certs',
      'strongswan_certs',
      'gauge',
      ['type'],
      'Certificates, CRLs, OCSP responses and public keys the daemon knows, by type (list-certs: type).',
    ),
    certsUnparsable: std(
      'certs',
      'strongswan_certs_unparsable',
      'gauge',
      ['type'],
      'Entries of list-certs whose DER (data) or dates could not be parsed; they are left out of the other cert and CRL metrics.',
    ),
    certNotBefore: std(
      'certs',
      'strongswan_cert_not_before_timestamp_seconds',
      'gauge',
      ['type', 'flag', 'subject', 'issuer', 'serial', 'has_privkey'],
      'Start of the validity of a certificate (list-certs: notBefore of the X.509 DER in data; not-before of a PUBKEY), seconds since the epoch.',
    ),
    certNotAfter: std(
      'certs',
      'strongswan_cert_not_after_timestamp_seconds',
      'gauge',
      ['type', 'flag', 'subject', 'issuer', 'serial', 'has_privkey'],
      'End of the validity of a certificate (list-certs: notAfter of the X.509 DER in data; not-after of a PUBKEY), seconds since the epoch.',
    ),
    crlThisUpdate: std(
      'certs',
      'strongswan_crl_this_update_timestamp_seconds',
      'gauge',
      ['issuer'],
      'When the newest CRL of an issuer was issued (list-certs type X509_CRL: thisUpdate of the DER in data), seconds since the epoch.',
    ),
    crlNextUpdate: std(
      'certs',
      'strongswan_crl_next_update_timestamp_seconds',
      'gauge',
      ['issuer'],
      'When the newest CRL of an issuer is due to be replaced (list-certs type X509_CRL: nextUpdate of the DER in data), seconds since the epoch.',
    ),
    ikeMessages: std(
      'counters',
      'strongswan_ike_messages_total',
      'counter',
      ['exchange', 'direction', 'kind'],
      'IKEv2 messages of all connections by exchange, direction and request/response (get-counters, global set: ike-init-in-req ... info-out-resp).',
    ),
    ikeRekeys: std(
      'counters',
      'strongswan_ike_rekeys_total',
      'counter',
      ['role'],
      'IKE SA rekeyings the daemon initiated or responded to (get-counters, global set: ike-rekey-init, ike-rekey-resp).',
    ),
    childRekeys: std(
      'counters',
      'strongswan_child_rekeys_total',
      'counter',
      [],
      'Completed CHILD SA rekeyings (get-counters, global set: child-rekey).',
    ),
    ikeInvalidMessages: std(
      'counters',
      'strongswan_ike_invalid_messages_total',
      'counter',
      [],
      'Received IKE messages that failed to parse, header or body (get-counters, global set: invalid).',
    ),
    ikeInvalidSpiMessages: std(
      'counters',
      'strongswan_ike_invalid_spi_messages_total',
      'counter',
      [],
      'Received IKE messages for an unknown IKE SPI (get-counters, global set: invalid-spi).',
    ),
    connIkeMessages: std(
      'conncounters',
      'strongswan_conn_ike_messages_total',
      'counter',
      ['conn', 'exchange', 'direction', 'kind'],
      'IKEv2 messages of IKE SAs of one connection, once the IKE SA has its config (get-counters all=yes or name=CONN: ike-init-in-req ... info-out-resp).',
    ),
    connIkeRekeys: std(
      'conncounters',
      'strongswan_conn_ike_rekeys_total',
      'counter',
      ['conn', 'role'],
      'IKE SA rekeyings of one connection the daemon initiated or responded to (get-counters all=yes or name=CONN: ike-rekey-init, ike-rekey-resp).',
    ),
    connChildRekeys: std(
      'conncounters',
      'strongswan_conn_child_rekeys_total',
      'counter',
      ['conn'],
      'Completed CHILD SA rekeyings of one connection (get-counters all=yes or name=CONN: child-rekey).',
    ),
    connIkeInvalidMessages: std(
      'conncounters',
      'strongswan_conn_ike_invalid_messages_total',
      'counter',
      ['conn'],
      'Received IKE messages of one connection that failed to parse (get-counters all=yes or name=CONN: invalid).',
    ),
    connIkeInvalidSpiMessages: std(
      'conncounters',
      'strongswan_conn_ike_invalid_spi_messages_total',
      'counter',
      ['conn'],
      'Received IKE messages for an unknown IKE SPI attributed to one connection, normally 0 (get-counters all=yes or name=CONN: invalid-spi).',
    ),
    userUp: std(
      'users',
      'strongswan_user_up',
      'gauge',
      ['conn', 'user'],
      'Whether the user (EAP or XAuth identity, else IKE identity, of a peer of the connection) has an established IKE SA now (1) or not (0).',
    ),
    userIkeSas: std(
      'users',
      'strongswan_user_ike_sas',
      'gauge',
      ['conn', 'user'],
      'Established IKE SAs of the user now.',
    ),
    userConnected: std(
      'users',
      'strongswan_user_connected_timestamp_seconds',
      'gauge',
      ['conn', 'user'],
      'When the oldest established IKE SA of the user was established (only while the user is up).',
    ),
    userVirtualIp: std(
      'users',
      'strongswan_user_virtual_ip_info',
      'gauge',
      ['conn', 'user', 'vip', 'pool'],
      'A virtual IP the user has been handed now (remote-vips of its IKE SAs), with the pool loaded over VICI whose range holds it (get-pools: base and size; empty when none does, e.g. an address from RADIUS or DHCP); value 1.',
    ),
    userBytes: std(
      'users',
      'strongswan_user_bytes_total',
      'counter',
      ['conn', 'user', 'direction'],
      "Bytes of the user's CHILD SAs, never going backwards across rekeys, reconnects and daemon restarts (finished SAs credited with their final counters, as strongswan_conn_child_bytes_total).",
    ),
    userPackets: std(
      'users',
      'strongswan_user_packets_total',
      'counter',
      ['conn', 'user', 'direction'],
      "Packets of the user's CHILD SAs, never going backwards (as strongswan_user_bytes_total).",
    ),
    usersTracked: std(
      'users',
      'strongswan_users_tracked',
      'gauge',
      [],
      'Users the users collector keeps series for (at most --collector.users.max-users).',
    ),
    usersDropped: std(
      'users',
      'strongswan_users_dropped_total',
      'counter',
      [],
      'Users left untracked because --collector.users.max-users users were tracked already (each counted once while refused).',
    ),
    policies: std(
      'policies',
      'strongswan_policies',
      'gauge',
      ['type'],
      'Installed trap policies and drop and pass shunts (list-policies with trap, drop and pass: mode PASS or DROP for shunts, any other mode is a trap).',
    ),
  } as const satisfies Record<string, Family>;
}

export const F = define();

/** Label names shared by several families, for collectors' label sets. */
export const LABELS = {
  ike: IKE,
  child: CHILD,
  seedIke: SEED_IKE,
  seedChild: SEED_CHILD,
  seedTs: SEED_TS,
} as const;

export type FamilyKey = keyof typeof F;
export const ALL_FAMILIES: readonly Family[] = Object.values(F);
