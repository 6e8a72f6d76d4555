// /metrics against etcd 3.4 (differential): every etcd_*, grpc_* and process_* family a live 3-member
// etcd exposes is in tetcd's, with the same type, label names and histogram buckets; values move under
// load and across a leader kill; every query of etcd's published Grafana dashboard finds data; and
// `etcdctl check datascale` (which reads process_resident_memory_bytes) passes.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { DiffCluster, type Member } from './helpers/diff_cluster.ts';
import { etcdctl, haveEtcd } from './helpers/procs.ts';

const ETCD = haveEtcd();
if (!ETCD) console.warn('SKIPPING the etcd side of test/metrics.test.ts: etcd 3.4 is not installed');

interface Family {
  type: string;
  labels: Set<string>;
  buckets: string[];
  samples: Map<string, number>;
}

/** Parses the text exposition format: families by name, with their samples (series -> value). */
function parse(text: string): Map<string, Family> {
  const fams = new Map<string, Family>();
  let cur: Family | undefined;
  let curName = '';
  for (const line of text.split('\n')) {
    const t = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (t) {
      curName = t[1]!;
      cur = { type: t[2]!, labels: new Set(), buckets: [], samples: new Map() };
      fams.set(curName, cur);
      continue;
    }
    if (line === '' || line.startsWith('#') || !cur) continue;
    const s = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/.exec(line);
    if (!s || !s[1]!.startsWith(curName)) continue;
    cur.samples.set(s[1]! + (s[2] ?? ''), Number(s[4]));
    for (const m of (s[3] ?? '').matchAll(/([a-zA-Z_]+)="((?:[^"\\]|\\.)*)"/g)) {
      if (m[1] === 'le') {
        if (!cur.buckets.includes(m[2]!)) cur.buckets.push(m[2]!);
      } else cur.labels.add(m[1]!);
    }
  }
  return fams;
}

async function scrape(m: Member): Promise<Map<string, Family>> {
  const r = await fetch(`http://127.0.0.1:${m.clientPort}/metrics`, { signal: AbortSignal.timeout(10_000) });
  assert.equal(r.status, 200);
  return parse(await r.text());
}

/** Sum of the samples of `name` whose labels contain every `want` pair (and none of `not`'s values). */
function sum(
  fams: Map<string, Family>,
  name: string,
  want: Record<string, string> = {},
  not: Record<string, string> = {},
) {
  const base = name.replace(/_(bucket|sum|count)$/, '');
  const f = fams.get(name) ?? fams.get(base);
  if (!f) return undefined;
  let total = 0;
  let found = false;
  for (const [series, v] of f.samples) {
    if (!series.startsWith(`${name}{`) && series !== name) continue;
    const labels = Object.fromEntries(
      [...series.matchAll(/([a-zA-Z_]+)="([^"]*)"/g)].map((m) => [m[1], m[2]]),
    );
    if (Object.entries(want).some(([k, v2]) => labels[k] !== v2)) continue;
    if (Object.entries(not).some(([k, v2]) => labels[k] === v2)) continue;
    found = true;
    total += v;
  }
  return found ? total : undefined;
}

/** Families etcd 3.4 shows that have no meaning for tetcd: Go's runtime, the v2 store, the grpc proxy. */
const NOT_OURS = /^(go_|etcd_debugging_store_|etcd_grpc_proxy_)/;

async function load(m: Member, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const r = await etcdctl(m.endpoint, ['put', `metrics-key-${i}`, `value-${i}`]);
    assert.equal(r.code, 0, r.stderr);
  }
  const g = await etcdctl(m.endpoint, ['get', 'metrics-key-0']);
  assert.equal(g.code, 0, g.stderr);
}

let etcd: DiffCluster | undefined;
let tetcd: DiffCluster;
let etcdFams: Map<string, Family> | undefined;

before(async () => {
  tetcd = await DiffCluster.start('tetcd', 3);
  if (ETCD) etcd = await DiffCluster.start('etcd', 3);
});
after(async () => {
  await tetcd?.close();
  await etcd?.close();
});

test(
  "tetcd's /metrics has every family etcd 3.4 shows, with its type, labels and buckets",
  { skip: !ETCD },
  async () => {
    const eLeader = await etcd!.waitLeader();
    const tLeader = await tetcd.waitLeader();
    await Promise.all([load(eLeader, 5), load(tLeader, 5)]);
    etcdFams = await scrape(eLeader);
    const ours = await scrape(tLeader);
    const missing: string[] = [];
    for (const [name, f] of etcdFams) {
      if (NOT_OURS.test(name)) continue;
      const o = ours.get(name);
      if (!o) {
        missing.push(name);
        continue;
      }
      assert.equal(o.type, f.type, `${name}: type`);
      // A family without samples on one side (a labelled one nobody used yet) shows no labels there.
      if (f.labels.size > 0 && o.labels.size > 0)
        assert.deepEqual([...o.labels].sort(), [...f.labels].sort(), `${name}: labels`);
      if (f.type === 'histogram' && o.buckets.length > 0)
        assert.deepEqual(o.buckets, f.buckets, `${name}: buckets`);
    }
    assert.deepEqual(missing, [], 'families etcd 3.4 shows that tetcd lacks');
    // Pre-registered per method as grpc_prometheus does: the same methods on both sides.
    const methods = (fams: Map<string, Family>) =>
      [...fams.get('grpc_server_started_total')!.samples.keys()]
        .filter((s) => !s.includes('grpc.health'))
        .sort();
    const theirs = methods(etcdFams);
    const mine = methods(ours);
    assert.deepEqual(
      { extra: mine.filter((m) => !theirs.includes(m)), missing: theirs.filter((m) => !mine.includes(m)) },
      { extra: [], missing: [] },
    );
  },
);

test('values move: puts counted on every member, fsyncs and commits observed, RPCs by code', async () => {
  const leader = await tetcd.waitLeader();
  const before = await Promise.all(tetcd.members.map((m) => scrape(m)));
  await load(leader, 20);
  // Followers apply a moment later.
  let after: Map<string, Family>[] = [];
  const until = Date.now() + 10_000;
  for (;;) {
    after = await Promise.all(tetcd.members.map((m) => scrape(m)));
    if (after.every((a, i) => sum(a, 'etcd_mvcc_put_total')! - sum(before[i]!, 'etcd_mvcc_put_total')! >= 20))
      break;
    assert.ok(Date.now() < until, 'every member counts the 20 puts it applied');
    await new Promise((r) => setTimeout(r, 100));
  }
  const li = tetcd.members.indexOf(leader);
  const delta = (name: string, want: Record<string, string> = {}) =>
    sum(after[li]!, name, want)! - (sum(before[li]!, name, want) ?? 0);
  assert.ok(delta('etcd_disk_wal_fsync_duration_seconds_count') > 0, 'WAL fsyncs observed');
  assert.ok(delta('etcd_disk_backend_commit_duration_seconds_count') > 0, 'backend commits observed');
  assert.equal(delta('grpc_server_handled_total', { grpc_method: 'Put', grpc_code: 'OK' }), 20);
  assert.equal(delta('grpc_server_started_total', { grpc_method: 'Range' }), 1);
  assert.ok(delta('etcd_network_client_grpc_received_bytes_total') > 0);
  assert.ok(delta('etcd_server_proposals_committed_total') >= 20);
  assert.ok(delta('etcd_server_proposals_applied_total') >= 20);
  assert.equal(sum(after[li]!, 'etcd_server_is_leader'), 1);
  assert.equal(
    after.reduce((n, a) => n + sum(a, 'etcd_server_is_leader')!, 0),
    1,
    'one leader',
  );
  for (const a of after) {
    assert.equal(sum(a, 'etcd_server_has_leader'), 1);
    assert.equal(sum(a, 'etcd_network_active_peers'), 2, 'connected to both peers');
    assert.ok(sum(a, 'etcd_network_peer_sent_bytes_total')! > 0);
    assert.ok(sum(a, 'etcd_network_peer_received_bytes_total')! > 0);
  }
  assert.ok(sum(after[li]!, 'etcd_network_peer_round_trip_time_seconds_count')! > 0, 'heartbeat round trips');
});

test("every query of etcd's Grafana dashboard finds data on a 3-member tetcd", async () => {
  const leader = await tetcd.waitLeader();
  await load(leader, 3);
  const all = await Promise.all(tetcd.members.map((m) => scrape(m)));
  // The series selectors of Documentation/op-guide/grafana.json (etcd 3.4).
  const selectors: [string, Record<string, string>, Record<string, string>?][] = [
    ['etcd_server_has_leader', {}],
    ['grpc_server_started_total', { grpc_type: 'unary' }],
    ['grpc_server_handled_total', { grpc_type: 'unary' }, { grpc_code: 'OK' }],
    ['grpc_server_started_total', { grpc_service: 'etcdserverpb.Watch', grpc_type: 'bidi_stream' }],
    ['grpc_server_handled_total', { grpc_service: 'etcdserverpb.Watch', grpc_type: 'bidi_stream' }],
    ['grpc_server_started_total', { grpc_service: 'etcdserverpb.Lease', grpc_type: 'bidi_stream' }],
    ['grpc_server_handled_total', { grpc_service: 'etcdserverpb.Lease', grpc_type: 'bidi_stream' }],
    ['etcd_debugging_mvcc_db_total_size_in_bytes', {}],
    ['etcd_disk_wal_fsync_duration_seconds_bucket', {}],
    ['etcd_disk_backend_commit_duration_seconds_bucket', {}],
    ['process_resident_memory_bytes', {}],
    ['etcd_network_client_grpc_received_bytes_total', {}],
    ['etcd_network_client_grpc_sent_bytes_total', {}],
    ['etcd_network_peer_received_bytes_total', {}],
    ['etcd_network_peer_sent_bytes_total', {}],
    ['etcd_server_proposals_failed_total', {}],
    ['etcd_server_proposals_pending', {}],
    ['etcd_server_proposals_committed_total', {}],
    ['etcd_server_proposals_applied_total', {}],
    ['etcd_server_leader_changes_seen_total', {}],
  ];
  for (const [name, want, not] of selectors) {
    for (const [i, fams] of all.entries()) {
      const v = sum(fams, name, want, not);
      assert.notEqual(v, undefined, `member ${i + 1}: no series for ${name}${JSON.stringify(want)}`);
    }
  }
  for (const fams of all) assert.ok(sum(fams, 'etcd_debugging_mvcc_db_total_size_in_bytes')! > 0);
});

test('etcdctl check datascale passes against tetcd', async () => {
  const leader = await tetcd.waitLeader();
  const r = await etcdctl(leader.endpoint, ['check', 'datascale', '--auto-compact', '--auto-defrag=false']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /PASS: Approximate system memory used : [\d.]+ MB/);
});

test('leader changes are counted across a leader kill', async () => {
  const leader = await tetcd.waitLeader();
  const others = tetcd.members.filter((m) => m !== leader);
  const before = await Promise.all(others.map((m) => scrape(m)));
  await tetcd.kill9(leader);
  const until = Date.now() + 15_000;
  for (;;) {
    const now = await Promise.all(others.map((m) => scrape(m)));
    const moved = now.every(
      (a, i) =>
        sum(a, 'etcd_server_leader_changes_seen_total')! >
          sum(before[i]!, 'etcd_server_leader_changes_seen_total')! && sum(a, 'etcd_server_has_leader') === 1,
    );
    if (moved) break;
    assert.ok(Date.now() < until, 'the survivors count the new leader');
    await new Promise((r) => setTimeout(r, 100));
  }
});
