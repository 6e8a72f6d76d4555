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
