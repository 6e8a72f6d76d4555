import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, parseConfig } from './config.ts';

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
