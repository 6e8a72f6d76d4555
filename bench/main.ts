// tetcd-bench: the same load against etcd 3.4 and tetcd on this machine, one server at a time, with
// ratios from the same run. Load comes from separate worker processes speaking raw HTTP/2 gRPC with
// hand-encoded requests (far cheaper per call than a full gRPC client), so the client is not what
// limits the server; the CPU time of both sides is printed to show it.
import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { startServer, etcdctl, type ServerHandle } from '../test/helpers/procs.ts';
import { RawGrpc, encodeCompaction, encodeRange, headerRevision } from '../src/client/raw_grpc.ts';
import type { WorkerJob, WorkerResult } from './worker.ts';

interface Phase {
  name: string;
  op: WorkerJob['op'];
  clients: number;
}

const PHASES: Phase[] = [
  { name: 'put, 1 client', op: 'put', clients: 1 },
  { name: 'put, 64 clients', op: 'put', clients: 64 },
  { name: 'range (linearizable), 1 client', op: 'range', clients: 1 },
  { name: 'range (linearizable), 64 clients', op: 'range', clients: 64 },
  { name: 'range (serializable), 64 clients', op: 'range-serializable', clients: 64 },
];

interface PhaseResult {
  ops: number;
  opsPerSec: number;
  p50: number;
  p99: number;
  errors: number;
  serverCpuSec: number;
  clientCpuSec: number;
}

function cpuSeconds(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // utime + stime, in clock ticks of 10 ms
  } catch {
    return 0;
  }
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function runPhase(h: ServerHandle, p: Phase, seconds: number, workers: number): Promise<PhaseResult> {
  const nWorkers = p.clients === 1 ? 1 : workers;
  const perWorker = Math.ceil(p.clients / nWorkers);
  const serverCpu0 = cpuSeconds(h.proc.pid!);
  let clientCpu = 0;
  const started = performance.now();
  const progress = setInterval(() => {
    const s = ((performance.now() - started) / 1000).toFixed(0);
    process.stderr.write(`\r  ${h.kind.padEnd(5)} ${p.name.padEnd(34)} ${s}/${seconds}s `);
  }, 500);
  const results = await Promise.all(
    Array.from({ length: nWorkers }, (_, w) => {
      const child = fork(new URL('./worker.ts', import.meta.url).pathname, [], {
        execArgv: ['--import', 'tsx'],
      });
      const job: WorkerJob = {
        endpoint: h.endpoint,
        op: p.op,
        concurrency: perWorker,
        connections: Math.max(1, Math.min(4, perWorker / 8)),
        durationMs: seconds * 1000,
        worker: w,
        keySpace: 10_000,
        valueSize: 256,
      };
      return new Promise<WorkerResult>((resolve, reject) => {
        child.once('message', (m) => {
          clientCpu += cpuSeconds(child.pid!);
          resolve(m as WorkerResult);
        });
        child.once('error', reject);
        child.send(job);
      });
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
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
    serverCpuSec: cpuSeconds(h.proc.pid!) - serverCpu0,
    clientCpuSec: clientCpu,
  };
}

/** Compacts history away (and defragments etcd) so leftover history does not slow the next phase. */
async function compactAll(h: ServerHandle): Promise<void> {
  const c = new RawGrpc(h.endpoint);
  try {
    const r = await c.unary('/etcdserverpb.KV/Range', encodeRange(Buffer.from('bench/'), true));
    const rev = headerRevision(r.payload);
    if (rev > 1) await c.unary('/etcdserverpb.KV/Compact', encodeCompaction(rev, true));
  } finally {
    c.close();
  }
  if (h.kind === 'etcd') await etcdctl(h.endpoint, ['defrag']);
}

async function benchOne(kind: 'tetcd' | 'etcd', seconds: number, workers: number): Promise<PhaseResult[]> {
  const h = await startServer(kind);
  try {
    const out: PhaseResult[] = [];
    for (const p of PHASES) {
      out.push(await runPhase(h, p, seconds, workers));
      await compactAll(h);
    }
    return out;
  } finally {
    await h.destroy();
  }
}

const fmt = (n: number, d = 0) => n.toFixed(d);

async function main(): Promise<void> {
  const cmd = new Command('tetcd-bench')
    .description('put and range throughput and latency of tetcd against etcd 3.4 on this machine')
    .option('--seconds <n>', 'seconds per phase', '5')
    .option('--workers <n>', 'load-generating processes for the 64-client phases', '2')
    .option('--target <t>', 'tetcd | etcd | both', 'both')
    .parse();
  const o = cmd.opts<{ seconds: string; workers: string; target: string }>();
  const seconds = Number(o.seconds);
  const workers = Number(o.workers);
  const kinds =
    o.target === 'both' ? (['etcd', 'tetcd'] as const) : ([o.target as 'etcd' | 'tetcd'] as const);
  process.stderr.write(
    `tetcd-bench: ${PHASES.length} phases x ${seconds}s per server; 256-byte values; ${workers} worker processes for 64 clients\n`,
  );
  const res: Partial<Record<'etcd' | 'tetcd', PhaseResult[]>> = {};
  for (const k of kinds) res[k] = await benchOne(k, seconds, workers);
  const rows = PHASES.map((p, i) => {
    const e = res.etcd?.[i];
    const t = res.tetcd?.[i];
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
  const head = [
    'phase',
    'etcd ops/s',
    'tetcd ops/s',
    'tetcd/etcd',
    'etcd p50/p99 ms',
    'tetcd p50/p99 ms',
    'etcd cpu srv/cli s',
    'tetcd cpu srv/cli s',
  ];
  const widths = head.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const line = (r: string[]) => `| ${r.map((x, c) => x.padEnd(widths[c]!)).join(' | ')} |`;
  console.log(line(head));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const r of rows) console.log(line(r));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
