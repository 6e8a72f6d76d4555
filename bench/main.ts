// tetcd-bench: the same load against etcd 3.4 and tetcd on this machine, one server at a time, with
// ratios from the same run. Load comes from separate worker processes speaking raw HTTP/2 gRPC with
// hand-encoded requests (far cheaper per call than a full gRPC client), so the client is not what
// limits the server; the CPU time of both sides is printed to show it.
import { fork } from 'node:child_process';
import { Command } from 'commander';
import { etcdctl, startServer } from '../test/helpers/procs.ts';
import { RawGrpc, authenticateToken, encodeAuthenticate } from '../src/client/raw_grpc.ts';
import type { WorkerJob, WorkerResult } from './worker.ts';
import { COORD_SCENARIOS, compactAll, cpuSeconds, runCoord, type CoordResult } from './coord.ts';
import { BenchCluster, track, trackDir, untrackDir } from './cluster.ts';
import { mainDefrag } from './defrag.ts';
import { mainScale } from './scale.ts';
import { mainSnapshot } from './snapshot.ts';

interface Phase {
  name: string;
  group: 'kv' | 'auth';
  op: WorkerJob['op'];
  clients: number;
}

const PHASES: Phase[] = [
  { name: 'put, 1 client', group: 'kv', op: 'put', clients: 1 },
  { name: 'put, 64 clients', group: 'kv', op: 'put', clients: 64 },
  { name: 'range (linearizable), 1 client', group: 'kv', op: 'range', clients: 1 },
  { name: 'range (linearizable), 64 clients', group: 'kv', op: 'range', clients: 64 },
  { name: 'range (serializable), 64 clients', group: 'kv', op: 'range-serializable', clients: 64 },
];

/**
 * The auth scenario (issue 13): auth enabled, the load sent as user `bench`, whose one role has
 * readwrite on the prefix `bench/`; every request carries its token, so each pays the token lookup and
 * the range-permission check. Run last: with auth on, the unauthenticated compaction between phases
 * would be refused.
 */
const AUTH_PHASES: Phase[] = [
  { name: 'auth: put as a user, 64 clients', group: 'auth', op: 'put', clients: 64 },
  { name: 'auth: range as a user, 64 clients', group: 'auth', op: 'range', clients: 64 },
];

/** Turns auth on (root, and user `bench` with readwrite on `bench/`) and returns bench's token. */
async function enableAuth(endpoint: string): Promise<string> {
  const steps = [
    ['user', 'add', 'root', '--new-user-password=root'],
    ['role', 'add', 'bench'],
    ['role', 'grant-permission', 'bench', 'readwrite', 'bench/', '--prefix'],
    ['user', 'add', 'bench', '--new-user-password=bench'],
    ['user', 'grant-role', 'bench', 'bench'],
    ['auth', 'enable'],
  ];
  for (const args of steps) {
    const r = await etcdctl(endpoint, args);
    if (r.code !== 0) throw new Error(`etcdctl ${args.join(' ')}: ${r.stderr.trim().split('\n').pop()}`);
  }
  const c = new RawGrpc(endpoint);
  try {
    const r = await c.unary('/etcdserverpb.Auth/Authenticate', encodeAuthenticate('bench', 'bench'));
    if (r.code !== 0) throw new Error(`Authenticate: ${r.code} ${r.message}`);
    return authenticateToken(r.payload);
  } finally {
    c.close();
  }
}

/** The kv phases of a --cluster run (issue 4: the 1-client range is left out). */
const CLUSTER_PHASES = PHASES.filter((p) => p.name !== 'range (linearizable), 1 client');

/**
 * Every kv phase first runs its load this long unmeasured, the same for both servers: connections are
 * open and caches warm, and V8 has compiled tetcd's hot paths. That takes a few thousand requests: a
 * lone client's puts to a fresh 3-member tetcd cluster averaged 1.45 ms over the first 2,000 and
 * 0.83-0.92 ms from then on (etcd, compiled ahead of time, has no such phase).
 */
const WARMUP_MS = 3000;

/** Where the load of a phase goes, and whose CPU counts as the server's. */
interface Target {
  kind: 'tetcd' | 'etcd';
  endpoint: string;
  /** Spread connections round-robin over these (leader first) instead of only `endpoint`. */
  spread?: string[];
  pids: number[];
}

const serverCpu = (t: Target) => t.pids.reduce((a, pid) => a + cpuSeconds(pid), 0);

interface PhaseResult {
  ops: number;
  opsPerSec: number;
  p50: number;
  p99: number;
  errors: number;
  serverCpuSec: number;
  clientCpuSec: number;
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function runPhase(
  h: Target,
  p: Phase,
  seconds: number,
  workers: number,
  token?: string,
): Promise<PhaseResult> {
  const nWorkers = p.clients === 1 ? 1 : workers;
  const perWorker = Math.ceil(p.clients / nWorkers);
  const serverCpu0 = serverCpu(h);
  let clientCpu = 0;
  const started = performance.now();
  const progress = setInterval(() => {
    const s = ((performance.now() - started - WARMUP_MS) / 1000).toFixed(0);
    process.stderr.write(`\r  ${h.kind.padEnd(5)} ${p.name.padEnd(34)} ${s}/${seconds}s `);
  }, 500);
  const results = await Promise.all(
    Array.from({ length: nWorkers }, (_, w) => {
      const child = track(
        fork(new URL('./worker.ts', import.meta.url).pathname, [], { execArgv: ['--import', 'tsx'] }),
      );
      const conns = Math.max(1, Math.min(4, perWorker / 8));
      const job: WorkerJob = {
        endpoint: h.endpoint,
        ...(h.spread && perWorker > 1 ? { endpoints: h.spread } : {}),
        op: p.op,
        concurrency: perWorker,
        connections: h.spread && perWorker > 1 ? Math.max(h.spread.length, conns) : conns,
        durationMs: seconds * 1000,
        warmupMs: WARMUP_MS,
        worker: w,
        keySpace: 10_000,
        valueSize: 256,
        ...(token === undefined ? {} : { token }),
      };
      return new Promise<WorkerResult>((resolve, reject) => {
        child.once('message', (m) => {
          clientCpu += cpuSeconds(child.pid!);
          resolve(m as WorkerResult);
        });
        child.once('error', reject);
        child.once('exit', (code) => reject(new Error(`load worker exited with ${code} before reporting`)));
        child.send(job);
      });
    }),
  );
  // Throughput over the measured window (not the workers' start-up and warm-up).
  const elapsed = Math.max(...results.map((r) => r.windowMs)) / 1000;
  clearInterval(progress);
  process.stderr.write('\n');
  const lat = Float64Array.from(results.flatMap((r) => r.latenciesUs)).sort();
  const errors = results.reduce((n, r) => n + r.errors, 0);
  if (errors)
    process.stderr.write(`  ${errors} errors, first: ${results.find((r) => r.firstError)?.firstError}\n`);
  return {
    ops: lat.length,
    opsPerSec: lat.length / elapsed,
    p50: percentile(lat, 50) / 1000,
    p99: percentile(lat, 99) / 1000,
    errors,
    serverCpuSec: serverCpu(h) - serverCpu0,
    clientCpuSec: clientCpu,
  };
}

interface Results {
  kv: PhaseResult[];
  coord: CoordResult[];
}

async function benchOne(
  kind: 'tetcd' | 'etcd',
  seconds: number,
  workers: number,
  only: Set<string>,
): Promise<Results> {
  const h = await startServer(kind);
  track(h.proc);
  trackDir(h.dataDir);
  const target: Target = { kind, endpoint: h.endpoint, pids: [h.proc.pid!] };
  try {
    const out: Results = { kv: [], coord: [] };
    for (const p of PHASES.filter((x) => only.has(x.group))) {
      out.kv.push(await runPhase(target, p, seconds, workers));
      await compactAll(h);
    }
    for (const sc of COORD_SCENARIOS.filter((x) => only.has(x.group))) {
      out.coord.push(await runCoord(h, sc, seconds, workers));
      await compactAll(h);
    }
    if (only.has('auth')) {
      // The range phase reads keys the put phase wrote (bench/0/...), as the kv phases do.
      const token = await enableAuth(h.endpoint);
      for (const p of AUTH_PHASES) out.kv.push(await runPhase(target, p, seconds, workers, token));
    }
    return out;
  } finally {
    await h.destroy();
    untrackDir(h.dataDir);
  }
}

/**
 * The kv phases against a fresh n-member cluster; load goes to the leader's client port (or, with
 * `spread`, round-robin over every member, leader first). Returns the results and the leader's name.
 */
async function benchCluster(
  kind: 'tetcd' | 'etcd',
  n: number,
  seconds: number,
  workers: number,
  spread: boolean,
): Promise<{ kv: PhaseResult[]; leader: string }> {
  process.stderr.write(`  ${kind.padEnd(5)} starting ${n} members...\n`);
  const t0 = performance.now();
  const c = await BenchCluster.start(kind, n);
  try {
    const leader = await c.waitLeader();
    const others = c.members.filter((m) => m !== leader).map((m) => m.endpoint);
    process.stderr.write(
      `  ${kind.padEnd(5)} leader ${leader.name} (${leader.endpoint}) after ${fmt((performance.now() - t0) / 1000, 1)} s; ` +
        `load to ${spread ? 'all members, leader first' : "the leader's client port"}\n`,
    );
    const target: Target = {
      kind,
      endpoint: leader.endpoint,
      ...(spread ? { spread: [leader.endpoint, ...others] } : {}),
      pids: c.pids(),
    };
    const kv: PhaseResult[] = [];
    for (const p of CLUSTER_PHASES) {
      const r = await runPhase(target, p, seconds, workers);
      kv.push(r);
      if (r.errors) process.stderr.write(`${c.logs(1500)}\n`);
      await compactAll({ kind, endpoint: leader.endpoint, endpoints: c.members.map((m) => m.endpoint) });
    }
    const after = await c.waitLeader(5000).catch(() => undefined);
    if (after !== leader)
      process.stderr.write(`  ${kind}: leader changed during the run (now ${after?.name ?? 'none'})\n`);
    return { kv, leader: leader.name };
  } catch (e) {
    process.stderr.write(`\n  ${kind} cluster failed: ${(e as Error).message}\n${c.logs()}\n`);
    throw e;
  } finally {
    await c.close();
  }
}

function printTable(head: string[], rows: string[][]): void {
  const widths = head.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const line = (r: string[]) => `| ${r.map((x, c) => x.padEnd(widths[c]!)).join(' | ')} |`;
  console.log(line(head));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const r of rows) console.log(line(r));
}

const fmt = (n: number, d = 0) => n.toFixed(d);

function printKv(phases: Phase[], etcd?: PhaseResult[], tetcd?: PhaseResult[]): void {
  const rows = phases.map((p, i) => {
    const e = etcd?.[i];
    const t = tetcd?.[i];
    return [
      p.name,
      e ? fmt(e.opsPerSec) : '-',
      t ? fmt(t.opsPerSec) : '-',
      e && t ? `${fmt(t.opsPerSec / e.opsPerSec, 2)}x` : '-',
      e ? `${fmt(e.p50, 2)}/${fmt(e.p99, 2)}` : '-',
      t ? `${fmt(t.p50, 2)}/${fmt(t.p99, 2)}` : '-',
      e ? `${fmt(e.serverCpuSec, 1)}/${fmt(e.clientCpuSec, 1)}` : '-',
      t ? `${fmt(t.serverCpuSec, 1)}/${fmt(t.clientCpuSec, 1)}` : '-',
    ];
  });
  printTable(
    [
      'phase',
      'etcd ops/s',
      'tetcd ops/s',
      'tetcd/etcd',
      'etcd p50/p99 ms',
      'tetcd p50/p99 ms',
      'etcd cpu srv/cli s',
      'tetcd cpu srv/cli s',
    ],
    rows,
  );
}

async function mainCluster(
  n: number,
  kinds: readonly ('etcd' | 'tetcd')[],
  seconds: number,
  workers: number,
  spread: boolean,
): Promise<void> {
  if (!Number.isInteger(n) || n < 1) throw new Error(`--cluster wants a member count, got ${n}`);
  const to = spread ? 'spread over all members (leader first)' : "sent to the leader's client port";
  process.stderr.write(
    `tetcd-bench --cluster ${n}: ${CLUSTER_PHASES.length} kv phases x ${seconds}s per cluster, load ${to}; ` +
      `${workers} worker processes for the many-client phases\n`,
  );
  const res: Partial<Record<'etcd' | 'tetcd', { kv: PhaseResult[]; leader: string }>> = {};
  const failed: string[] = [];
  for (const k of kinds) {
    try {
      res[k] = await benchCluster(k, n, seconds, workers, spread);
    } catch (e) {
      failed.push(`${k}: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  const leaders = kinds.map((k) => `${k} leader ${res[k]?.leader ?? '-'}`).join(', ');
  console.log(`${n}-member clusters, load ${to} (${leaders}); server cpu is the sum over all members`);
  printKv(CLUSTER_PHASES, res.etcd?.kv, res.tetcd?.kv);
  const e = res.etcd?.kv;
  const t = res.tetcd?.kv;
  if (e && t) {
    const ratios = CLUSTER_PHASES.map((p, i) => {
      const a = e[i]!;
      const b = t[i]!;
      return `${p.name}: throughput ${fmt(b.opsPerSec / a.opsPerSec, 2)}x, p50 ${fmt(b.p50 / a.p50, 2)}x, p99 ${fmt(b.p99 / a.p99, 2)}x`;
    });
    console.log(`\ntetcd/etcd ratios (latency ratio above 1 = tetcd slower):\n  ${ratios.join('\n  ')}`);
  }
  if (failed.length) {
    console.log(`\nfailed: ${failed.join('; ')}`);
    process.exitCode = 1;
  }
}

async function main(): Promise<void> {
  const cmd = new Command('tetcd-bench')
    .description('put/range, watch and lease throughput of tetcd against etcd 3.4 on this machine')
    .option('--seconds <n>', 'seconds per phase', '5')
    .option('--workers <n>', 'load-generating processes for the 64-client phases', '2')
    .option('--target <t>', 'tetcd | etcd | both', 'both')
    .option('--only <groups>', 'comma-separated: kv, watch, lease, auth', 'kv,watch,lease,auth')
    .option('--cluster <n>', 'kv phases against n-member clusters instead of single members')
    .option('--spread', "with --cluster: spread the load over all members, not just the leader's port")
    .option('--defrag <MiB>', 'write latency during an online defrag of a backend of this size, instead')
    .option('--scale <keys>', 'load this many keys into one member, then RSS, restart and full-range figures')
    .option('--snapshot <MiB>', 'snapshot save under writes and restore of a backend of this size, instead')
    .parse();
  const o = cmd.opts<{
    seconds: string;
    workers: string;
    target: string;
    only: string;
    cluster?: string;
    spread?: boolean;
    defrag?: string;
    scale?: string;
    snapshot?: string;
  }>();
  const only = new Set(o.only.split(',').map((x) => x.trim()));
  const phases = [...PHASES, ...AUTH_PHASES].filter((p) => only.has(p.group));
  const scenarios = COORD_SCENARIOS.filter((x) => only.has(x.group));
  const seconds = Number(o.seconds);
  const workers = Number(o.workers);
  const kinds =
    o.target === 'both' ? (['etcd', 'tetcd'] as const) : ([o.target as 'etcd' | 'tetcd'] as const);
  if (o.snapshot !== undefined) {
    await mainSnapshot(Number(o.snapshot), kinds);
    return;
  }
  if (o.scale !== undefined) {
    await mainScale(Number(o.scale), kinds);
    return;
  }
  if (o.defrag !== undefined) {
    await mainDefrag(Number(o.defrag), kinds);
    return;
  }
  if (o.cluster !== undefined) {
    await mainCluster(Number(o.cluster), kinds, seconds, workers, o.spread === true);
    return;
  }
  process.stderr.write(
    `tetcd-bench: ${phases.length + scenarios.length} phases x ${seconds}s per server; ${workers} worker processes for the many-client phases\n`,
  );
  const res: Partial<Record<'etcd' | 'tetcd', Results>> = {};
  for (const k of kinds) res[k] = await benchOne(k, seconds, workers, only);
  if (phases.length) printKv(phases, res.etcd?.kv, res.tetcd?.kv);
  const coordRows = scenarios.map((sc, i) => {
    const e = res.etcd?.coord[i];
    const t = res.tetcd?.coord[i];
    const aux = (r: CoordResult) =>
      sc.group === 'watch' ? `${fmt(r.aux)} puts/s, ${fmt(r.fanout * 100)}%` : `${fmt(r.aux, 2)} ms`;
    return [
      sc.name,
      sc.group === 'watch' ? 'events/s' : 'keep-alives/s',
      e ? fmt(e.rate) : '-',
      t ? fmt(t.rate) : '-',
      e && t ? `${fmt(t.rate / e.rate, 2)}x` : '-',
      e ? aux(e) : '-',
      t ? aux(t) : '-',
      e ? `${fmt(e.serverCpuSec, 1)}/${fmt(e.clientCpuSec, 1)}` : '-',
      t ? `${fmt(t.serverCpuSec, 1)}/${fmt(t.clientCpuSec, 1)}` : '-',
    ];
  });
  if (coordRows.length) {
    if (phases.length) console.log('');
    printTable(
      [
        'scenario',
        'unit',
        'etcd',
        'tetcd',
        'tetcd/etcd',
        'etcd puts/s, fan-out | p99',
        'tetcd puts/s, fan-out | p99',
        'etcd cpu srv/cli s',
        'tetcd cpu srv/cli s',
      ],
      coordRows,
    );
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
