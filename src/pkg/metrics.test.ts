import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Backend } from '../backend/backend.ts';
import { KVStore } from '../mvcc/kvstore.ts';
import { bindGrpc, bindMember, goFloat, scrape, walFsync, type MemberSource } from './metrics.ts';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** The value of one sample line (`name{labels} value`) of the exposition text, or undefined. */
function sample(body: string, series: string): number | undefined {
  for (const line of body.split('\n')) {
    const at = line.lastIndexOf(' ');
    if (line.slice(0, at) === series) return Number(line.slice(at + 1));
  }
  return undefined;
}

test('mvcc counters count as etcd counts: ops at txn end, a txn when it holds more than one op', async () => {
  const d = mkdtempSync(join(tmpdir(), 'tetcd-metrics-'));
  dirs.push(d);
  const be = Backend.open(d);
  const kv = await KVStore.open(be);
  const before = (await scrape()).body;
  const at = (body: string, s: string) => (sample(body, s) ?? 0) - (sample(before, s) ?? 0);

  const t = kv.write();
  t.put(Buffer.from('k1'), Buffer.from('value'), 0n); // 2 + 5 bytes
  t.put(Buffer.from('k2'), Buffer.from('v'), 0n); // 2 + 1 bytes
  t.deleteRange(Buffer.from('k1'), undefined);
  t.end();
  const r = kv.read();
  r.range(Buffer.from('k2'), undefined);
  r.end();

  const body = (await scrape()).body;
  assert.equal(at(body, 'etcd_mvcc_put_total'), 2);
  assert.equal(at(body, 'etcd_debugging_mvcc_put_total'), 2);
  assert.equal(at(body, 'etcd_mvcc_delete_total'), 1);
  assert.equal(
    at(body, 'etcd_mvcc_range_total'),
    1,
    'the delete reads the range it deletes without counting it',
  );
  assert.equal(at(body, 'etcd_mvcc_txn_total'), 1, 'the write txn had 3 ops; the lone range is no txn');
  assert.equal(at(body, 'etcd_debugging_mvcc_total_put_size_in_bytes'), 10);
  await be.commit();
  const after = (await scrape()).body;
  assert.ok(
    (sample(after, 'etcd_disk_backend_commit_duration_seconds_count') ?? 0) >
      (sample(before, 'etcd_disk_backend_commit_duration_seconds_count') ?? 0),
    'a backend commit is observed',
  );
  await be.close();
});

test("histograms have etcd's buckets; member state is read at scrape time", async () => {
  walFsync.observe(0.003);
  let leader = false;
  const src: MemberSource = {
    id: () => '8e9e05c52164694d',
    hasLeader: () => true,
    isLeader: () => leader,
    isLearner: () => false,
    proposalsCommitted: () => 7,
    proposalsApplied: () => 6,
    proposalsPending: () => 1,
    currentRevision: () => 42,
    compactRevision: () => 3,
    keys: () => 5,
    dbSize: () => 4096,
    dbSizeInUse: () => 2048,
    openReadTxns: () => 0,
    watchers: () => 2,
    slowWatchers: () => 0,
    pendingEvents: () => 0,
    quotaBackendBytes: () => 2 * 1024 ** 3,
    authRevision: () => 1,
    activePeers: () => ['91bc3c398fb3c146'],
  };
  bindMember(src);
  bindGrpc(() => [
    {
      service: 'etcdserverpb.KV',
      method: 'Put',
      type: 'unary',
      started: 3,
      received: 3,
      sent: 2,
      handled: new Map([['OK', 2]]),
    },
  ]);
  try {
    const body = (await scrape()).body;
    const les = body
      .split('\n')
      .filter((l) => l.startsWith('etcd_disk_wal_fsync_duration_seconds_bucket'))
      .map((l) => /le="([^"]+)"/.exec(l)![1]);
    assert.deepEqual(les, [
      '0.001',
      '0.002',
      '0.004',
      '0.008',
      '0.016',
      '0.032',
      '0.064',
      '0.128',
      '0.256',
      '0.512',
      '1.024',
      '2.048',
      '4.096',
      '8.192',
      '+Inf',
    ]);
    assert.equal(sample(body, 'etcd_disk_wal_fsync_duration_seconds_bucket{le="0.004"}'), 1);
    assert.equal(sample(body, 'etcd_server_has_leader'), 1);
    assert.equal(sample(body, 'etcd_server_is_leader'), 0);
    assert.equal(sample(body, 'etcd_debugging_mvcc_current_revision'), 42);
    assert.equal(sample(body, 'etcd_server_id{server_id="8e9e05c52164694d"}'), 1);
    assert.equal(
      sample(body, 'etcd_network_active_peers{Local="8e9e05c52164694d",Remote="91bc3c398fb3c146"}'),
      1,
    );
    const put = 'grpc_method="Put",grpc_service="etcdserverpb.KV",grpc_type="unary"';
    const code = (c: string) => `grpc_code="${c}",${put}`;
    assert.equal(sample(body, `grpc_server_started_total{${put}}`), 3);
    assert.equal(sample(body, `grpc_server_handled_total{${code('OK')}}`), 2);
    assert.equal(sample(body, `grpc_server_handled_total{${code('Unavailable')}}`), 0);
    assert.ok(sample(body, 'process_resident_memory_bytes')! > 0, 'process metrics are on');
    leader = true;
    assert.equal(sample((await scrape()).body, 'etcd_server_is_leader'), 1, 'read again at the next scrape');
  } finally {
    bindMember(undefined);
    bindGrpc(() => []);
  }
});

test('bucket bounds are written as Go writes floats', () => {
  const cases: [number, string][] = [
    [0.0001, '0.0001'],
    [0.00001, '1e-05'],
    [0.5, '0.5'],
    [524288, '524288'],
    [1048576, '1.048576e+06'],
    [8388608, '8.388608e+06'],
    [1e6, '1e+06'],
    [819200, '819200'],
    [2 ** 64, '1.8446744073709552e+19'],
    [Infinity, '+Inf'],
  ];
  for (const [v, want] of cases) assert.equal(goFloat(v), want, String(v));
});
