import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, parseConfig, parseDuration } from './config.ts';

test('cluster flags take etcd defaults: 100 ms heartbeat, 1 s election, pre-vote on, no peer port asked for', () => {
  const { config } = parseConfig([], {});
  assert.equal(config.heartbeatInterval, 100);
  assert.equal(config.electionTimeout, 1000);
  assert.equal(config.snapshotCount, 100000);
  assert.equal(config.snapshotCatchupEntries, 5000);
  assert.equal(config.preVote, true);
  assert.equal(config.listenPeerUrlsGiven, false);
  assert.equal(config.initialClusterState, 'new');
});

test('cluster flags are read from flags and the environment', () => {
  const { config, ignored } = parseConfig(
    [
      '--heartbeat-interval',
      '50',
      '--election-timeout=500',
      '--snapshot-count',
      '10',
      '--pre-vote=false',
      '--listen-peer-urls',
      'http://127.0.0.1:2390',
    ],
    { ETCD_SNAPSHOT_CATCHUP_ENTRIES: '7' },
  );
  assert.deepEqual(ignored, []);
  assert.equal(config.heartbeatInterval, 50);
  assert.equal(config.electionTimeout, 500);
  assert.equal(config.snapshotCount, 10);
  assert.equal(config.snapshotCatchupEntries, 7);
  assert.equal(config.preVote, false);
  assert.equal(config.listenPeerUrlsGiven, true);
  assert.equal(parseConfig(['--pre-vote'], {}).config.preVote, true);
});

test('an election timeout under 5 heartbeats is refused as etcd does', () => {
  assert.throws(
    () => parseConfig(['--heartbeat-interval', '100', '--election-timeout', '400'], {}),
    (e: unknown) => e instanceof ConfigError && /at least as 5 times/.test(e.message),
  );
  assert.throws(() => parseConfig(['--pre-vote=maybe'], {}), ConfigError);
});

test('HTTP/2 front flags take etcd 3.4 defaults: unlimited streams, keepalive 5s / 2h / 20s', () => {
  const { config } = parseConfig([], {});
  assert.equal(config.maxConcurrentStreams, 2 ** 32 - 1);
  assert.equal(config.grpcKeepAliveMinTime, 5000);
  assert.equal(config.grpcKeepAliveInterval, 2 * 3600 * 1000);
  assert.equal(config.grpcKeepAliveTimeout, 20_000);
  assert.equal(config.maxClientConnections, 4096);
});

test('HTTP/2 front flags are read from flags, the environment and the YAML file (durations in ns there, as etcd)', () => {
  const { config } = parseConfig(
    ['--max-concurrent-streams', '100', '--grpc-keepalive-min-time=1m30s', '--max-client-connections', '50'],
    { ETCD_GRPC_KEEPALIVE_INTERVAL: '10s', ETCD_GRPC_KEEPALIVE_TIMEOUT: '1500ms' },
  );
  assert.equal(config.maxConcurrentStreams, 100);
  assert.equal(config.grpcKeepAliveMinTime, 90_000);
  assert.equal(config.grpcKeepAliveInterval, 10_000);
  assert.equal(config.grpcKeepAliveTimeout, 1500);
  assert.equal(config.maxClientConnections, 50);
  const dir = mkdtempSync(join(tmpdir(), 'tetcd-config-'));
  try {
    const file = join(dir, 'etcd.yaml');
    writeFileSync(
      file,
      'max-concurrent-streams: 7\ngrpc-keepalive-min-time: 2000000000\ngrpc-keepalive-interval: 3s\n',
    );
    const c = parseConfig(['--config-file', file], {}).config;
    assert.equal(c.maxConcurrentStreams, 7);
    assert.equal(c.grpcKeepAliveMinTime, 2000);
    assert.equal(c.grpcKeepAliveInterval, 3000);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('HTTP/2 front flags: 0 means what it means to etcd 3.4 on grpc-go 1.33', () => {
  // No limit; no enforcement policy (grpc-go's 5 min minimum); no server parameters (2 h, 20 s).
  const { config } = parseConfig(
    ['--max-concurrent-streams=0', '--grpc-keepalive-min-time=0', '--grpc-keepalive-interval=0'],
    {},
  );
  assert.equal(config.maxConcurrentStreams, 2 ** 32 - 1);
  assert.equal(config.grpcKeepAliveMinTime, 5 * 60_000);
  assert.equal(config.grpcKeepAliveInterval, 2 * 3600 * 1000);
  assert.equal(config.grpcKeepAliveTimeout, 20_000);
});

test('bad HTTP/2 front flag values are refused', () => {
  for (const argv of [
    ['--max-concurrent-streams', '4294967296'],
    ['--max-concurrent-streams', '-1'],
    ['--grpc-keepalive-min-time', '5'],
    ['--grpc-keepalive-interval', '2 hours'],
    ['--max-client-connections', '0'],
  ]) {
    assert.throws(() => parseConfig(argv, {}), ConfigError, argv.join(' '));
  }
  assert.equal(parseDuration('x', '1h2m3.5s'), 3_723_500);
  assert.equal(parseDuration('x', '250us'), 0.25);
});

const refused = (argv: string[], env: NodeJS.ProcessEnv, re: RegExp, exitCode: 1 | 2 = 1) =>
  assert.throws(
    () => parseConfig(argv, env),
    (e: unknown) => e instanceof ConfigError && re.test(e.message) && e.exitCode === exitCode,
    argv.join(' '),
  );

test("flags are read with Go's flag syntax: one or two dashes, bools take a value only after '='", () => {
  const { config } = parseConfig(['-name', 'a', '--force-new-cluster', '-strict-reconfig-check=false'], {});
  assert.equal(config.name, 'a');
  assert.equal(config.forceNewCluster, true);
  assert.equal(config.strictReconfigCheck, false);
  refused(['--pre-vote', 'false'], {}, /^'false' is not a valid flag$/);
  refused(['--bogus'], {}, /^flag provided but not defined: -bogus$/, 2);
  refused(['--name'], {}, /^flag needs an argument: -name$/, 2);
  refused(['--snapshot-count', 'abc'], {}, /^invalid value "abc" for flag -snapshot-count: parse error$/, 2);
  refused(['--pre-vote=maybe'], {}, /^invalid boolean value "maybe" for -pre-vote/, 2);
});

test('the environment fills flags not given; a variable shadowed by a flag is refused, an unknown one warned', () => {
  const p = parseConfig(['--name', 'a'], { ETCD_MAX_WALS: '3', ETCD_FOO: '1', ETCD_WAL_DIR: '' });
  assert.equal(p.config.maxWals, 3);
  assert.equal(p.config.walDir, undefined, 'an empty variable counts as unset');
  assert.deepEqual(p.warnings, ['unrecognized environment variable ETCD_FOO=1']);
  refused(
    ['--name', 'a'],
    { ETCD_NAME: 'b' },
    /^conflicting environment variable "ETCD_NAME" is shadowed by corresponding command-line flag/,
  );
  refused([], { ETCD_SNAPSHOT_COUNT: 'abc' }, /^invalid value "abc" for ETCD_SNAPSHOT_COUNT: parse error$/);
});

test('storage and reconfiguration flags take etcd defaults and reach the config', () => {
  const d = parseConfig([], {}).config;
  assert.deepEqual(
    [
      d.walDir,
      d.maxSnapshots,
      d.maxWals,
      d.forceNewCluster,
      d.initialElectionTickAdvance,
      d.strictReconfigCheck,
    ],
    [undefined, 5, 5, false, true, true],
  );
  assert.equal(d.watchProgressNotifyInterval, 10 * 60_000);
  const c = parseConfig(
    [
      '--wal-dir=/w',
      '--max-snapshots=0',
      '--max-wals',
      '9',
      '--initial-election-tick-advance=false',
      '--experimental-watch-progress-notify-interval=2s',
      '--experimental-snapshot-catchup-entries=17',
      '--debug',
    ],
    {},
  ).config;
  assert.deepEqual([c.walDir, c.maxSnapshots, c.maxWals, c.initialElectionTickAdvance], ['/w', 0, 9, false]);
  assert.equal(c.watchProgressNotifyInterval, 2000);
  assert.equal(c.snapshotCatchupEntries, 17);
  assert.equal(c.logLevel, 'debug', '--debug is --log-level=debug, as in etcd 3.4');
  assert.equal(d.enablePprof, false);
  assert.equal(parseConfig(['--snapshot-count=0'], {}).config.snapshotCount, 100_000, "0 is etcd's default");
  assert.equal(
    parseConfig(['--experimental-snapshot-catchup-entries=0'], {}).config.snapshotCatchupEntries,
    5000,
  );
  assert.equal(parseConfig(['--enable-pprof'], {}).config.enablePprof, true);
});

test('flags waiting for another issue and flags with no meaning here are accepted and reported', () => {
  const p = parseConfig(
    [
      '--quota-backend-bytes=8589934592',
      '--experimental-compaction-batch-limit=500',
      '--metrics',
      'extensive',
      '--enable-v2',
      '--logger=zap',
      '--proxy=off',
    ],
    { ETCD_AUTO_COMPACTION_RETENTION: '1h', ETCD_CERT_FILE: '' },
  );
  assert.deepEqual(p.pending, [{ flag: 'experimental-compaction-batch-limit', issue: 14 }]);
  assert.equal(p.config.quotaBackendBytes, 8589934592);
  assert.equal(p.config.autoCompactionRetention, '1h');
  assert.equal(p.config.metrics, 'extensive');
  assert.deepEqual(p.ignored, ['enable-v2', 'logger', 'proxy']);
});

test('discovery or the v2 proxy is refused with one line; its neutral value is not', () => {
  refused(['--discovery', 'https://discovery.etcd.io/x'], {}, /^--discovery is not supported/);
  refused(['--proxy', 'on'], {}, /^--proxy=on is not supported/);
  const ok = parseConfig(['--discovery='], {});
  assert.deepEqual(ok.ignored, ['discovery']);
});

test("TLS flags are checked with etcd's words: https:// needs a cert, cipher suites by Go name, versions", () => {
  const c = [
    '--listen-client-urls',
    'https://127.0.0.1:2379',
    '--advertise-client-urls',
    'https://127.0.0.1:2379',
  ];
  refused(
    c,
    {},
    /^TLS key\/cert \(--cert-file, --key-file\) must be provided for client url https:\/\/127.0.0.1:2379 with HTTPS scheme$/,
  );
  refused(
    ['--listen-peer-urls', 'https://127.0.0.1:2380'],
    {},
    /^cannot listen on TLS for 127.0.0.1:2380: KeyFile and CertFile are not presented/,
  );
  const tls = ['--cert-file', '/c.pem', '--key-file=/k.pem'];
  refused(
    [...c, ...tls, '--cipher-suites', 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,FOO'],
    {},
    /^unexpected TLS cipher suite "FOO"$/,
  );
  refused([...c, ...tls, '--tls-min-version', 'TLS1.1'], {}, /^unexpected TLS version "TLS1.1"/);
  refused([...c, '--cert-file', '/c.pem'], {}, /^KeyFile and CertFile must both be present/);
  refused(
    [
      ...tls,
      '--listen-peer-urls=https://127.0.0.1:2380',
      '--peer-cert-file=/p',
      '--peer-key-file=/k',
      '--peer-cert-allowed-cn=a',
      '--peer-cert-allowed-hostname=b',
    ],
    {},
    /^AllowedCN and AllowedHostname are mutually exclusive \(cn="a", hostname="b"\)$/,
  );
  const ok = parseConfig([...c, ...tls, '--trusted-ca-file', '/ca.pem', '--client-cert-auth'], {});
  assert.equal(ok.config.clientTls?.certFile, '/c.pem');
  assert.equal(ok.config.clientTls?.clientCertAuth, true);
  assert.equal(ok.config.clientTls?.trustedCaFile, '/ca.pem');
  assert.equal(ok.config.peerTls, undefined);
  // A certificate with only http:// URLs is ignored with etcd's warning.
  const plain = parseConfig(tls, {});
  assert.match(
    plain.warnings.join('\n'),
    /scheme is HTTP while key and cert files are present; ignoring key and cert files/,
  );
  // --auto-tls with certificates given: ignored, as etcd.
  const auto = parseConfig([...c, ...tls, '--auto-tls'], {});
  assert.equal(auto.config.clientTls?.autoTls, false);
  assert.match(auto.warnings.join('\n'), /ignoring client auto TLS since certs given/);
  const autoOnly = parseConfig([...c, '--auto-tls'], {});
  assert.equal(autoOnly.config.clientTls?.autoTls, true);
});

test("the config file holds etcd's keys and types and replaces flags and environment", () => {
  const dir = mkdtempSync(join(tmpdir(), 'tetcd-config-'));
  try {
    const file = join(dir, 'etcd.yaml');
    writeFileSync(
      file,
      [
        'name: fromfile',
        'wal-dir: /w',
        'max-wals: 2',
        'strict-reconfig-check: false',
        'listen-client-urls: http://127.0.0.1:1,http://127.0.0.1:2',
        'log-outputs: [stderr]',
        'cipher-suites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256]',
        'backend-batch-interval: 10000000',
        'client-transport-security:',
        "  cert-file: ''",
        '  client-cert-auth: false',
        '',
      ].join('\n'),
    );
    const p = parseConfig(['--config-file', file], { ETCD_NAME: 'fromenv', ETCD_FOO: 'x' });
    assert.equal(p.config.name, 'fromfile');
    assert.equal(p.config.walDir, '/w');
    assert.equal(p.config.maxWals, 2);
    assert.equal(p.config.strictReconfigCheck, false);
    assert.deepEqual(p.config.listenClientUrls, ['http://127.0.0.1:1', 'http://127.0.0.1:2']);
    assert.deepEqual(p.ignored, ['log-outputs', 'backend-batch-interval']);
    assert.deepEqual(p.pending, []);
    assert.deepEqual(p.config.clientTls, undefined);
    assert.equal(parseConfig([], { ETCD_CONFIG_FILE: file }).config.name, 'fromfile');
    writeFileSync(
      file,
      'peer-transport-security:\n  cert-file: /p.pem\n  key-file: /p.key\n  allowed-cn: m1\nlisten-peer-urls: https://127.0.0.1:2380\n',
    );
    const peer = parseConfig(['--config-file', file], {}).config.peerTls;
    assert.equal(peer?.certFile, '/p.pem');
    assert.equal(peer?.allowedCn, 'm1');
    writeFileSync(file, 'client-transport-security:\n  nonsense: 1\n');
    refused(['--config-file', file], {}, /unknown key "client-transport-security.nonsense"/);
    writeFileSync(file, 'nonsense-key: 1\n');
    refused(['--config-file', file], {}, /unknown key "nonsense-key"/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('--listen-client-urls without --advertise-client-urls is refused, as etcd 3.4 does', () => {
  refused(
    ['--listen-client-urls', 'http://127.0.0.1:2379'],
    {},
    /^--advertise-client-urls is required when --listen-client-urls is set explicitly/,
  );
  refused([], { ETCD_LISTEN_CLIENT_URLS: 'http://127.0.0.1:2379' }, /--advertise-client-urls is required/);
  const c = parseConfig(['--listen-client-urls', 'http://127.0.0.1:2379'], {
    ETCD_ADVERTISE_CLIENT_URLS: 'http://10.0.0.1:2379',
  }).config;
  assert.deepEqual(c.advertiseClientUrls, ['http://10.0.0.1:2379']);
});

test("URL flags are checked with etcd's words; listen URLs must bind an IP or localhost", () => {
  const adv = ['--advertise-client-urls', 'http://10.0.0.1:2379'];
  refused(
    ['--listen-client-urls', 'http://127.0.0.1:2379/x', ...adv],
    {},
    /: URL must not contain a path: /,
    2,
  );
  refused(
    ['--listen-peer-urls', 'http://127.0.0.1'],
    {},
    /URL address does not have the form "host:port"/,
    2,
  );
  refused(
    ['--listen-peer-urls', 'ftp://127.0.0.1:1'],
    {},
    /URL scheme must be http, https, unix, or unixs/,
    2,
  );
  refused(
    ['--listen-client-urls', 'http://db.example:2379', ...adv],
    {},
    /^expected IP in URL for binding \(http:\/\/db\.example:2379\)$/,
  );
  const c = parseConfig(['--listen-client-urls', 'http://localhost:2379,http://[::1]:80', ...adv], {}).config;
  assert.deepEqual(c.listenClientUrls, ['http://localhost:2379', 'http://[::1]:80']);
  assert.deepEqual(c.advertiseClientUrls, ['http://10.0.0.1:2379'], 'advertised URLs may name hosts');
});

test('auto-compaction flags are checked at startup with etcd 3.4.23 words', () => {
  assert.throws(
    () => parseConfig(['--auto-compaction-mode=foo'], {}),
    (e: Error) => e.message === 'error verifying flags, unknown auto-compaction-mode "foo"',
  );
  assert.throws(
    () => parseConfig(['--auto-compaction-retention=1.5'], {}),
    /error parsing CompactionRetention: time: missing unit in duration "1.5"/,
  );
  const c = parseConfig(['--auto-compaction-mode=revision', '--auto-compaction-retention=1000'], {}).config;
  assert.equal(c.autoCompactionMode, 'revision');
  assert.equal(c.autoCompactionRetention, '1000');
  assert.equal(parseConfig(['--quota-backend-bytes=-1'], {}).config.quotaBackendBytes, -1);
});
