// tetcd-bench: the same load against etcd 3.4 and tetcd on this machine, one server at a time, with
// ratios from the same run. Load comes from separate worker processes speaking raw HTTP/2 gRPC with
// hand-encoded requests (far cheaper per call than a full gRPC client), so the client is not what
// limits the server; the CPU time of both sides is printed to show it.
import { fork } from 'node:child_process';
import { Command } from 'commander';
import { startServer, type ServerHandle } from '../test/helpers/procs.ts';
import type { WorkerJob, WorkerResult } from './worker.ts';
import { COORD_SCENARIOS, compactAll, cpuSeconds, runCoord, type CoordResult } from './coord.ts';

interface Phase {
  name: string;
  group: 'kv';
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
  try {
    const out: Results = { kv: [], coord: [] };
    for (const p of PHASES.filter((x) => only.has(x.group))) {
      out.kv.push(await runPhase(h, p, seconds, workers));
      await compactAll(h);
    }
    for (const sc of COORD_SCENARIOS.filter((x) => only.has(x.group))) {
      out.coord.push(await runCoord(h, sc, seconds, workers));
      await compactAll(h);
    }
    return out;
  } finally {
    await h.destroy();
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

async function main(): Promise<void> {
  const cmd = new Command('tetcd-bench')
    .description('put/range, watch and lease throughput of tetcd against etcd 3.4 on this machine')
    .option('--seconds <n>', 'seconds per phase', '5')
    .option('--workers <n>', 'load-generating processes for the 64-client phases', '2')
    .option('--target <t>', 'tetcd | etcd | both', 'both')
    .option('--only <groups>', 'comma-separated: kv, watch, lease', 'kv,watch,lease')
    .parse();
  const o = cmd.opts<{ seconds: string; workers: string; target: string; only: string }>();
  const only = new Set(o.only.split(',').map((x) => x.trim()));
  const phases = PHASES.filter((p) => only.has(p.group));
  const scenarios = COORD_SCENARIOS.filter((x) => only.has(x.group));
  const seconds = Number(o.seconds);
  const workers = Number(o.workers);
  const kinds =
    o.target === 'both' ? (['etcd', 'tetcd'] as const) : ([o.target as 'etcd' | 'tetcd'] as const);
  process.stderr.write(
    `tetcd-bench: ${phases.length + scenarios.length} phases x ${seconds}s per server; ${workers} worker processes for the many-client phases\n`,
  );
  const res: Partial<Record<'etcd' | 'tetcd', Results>> = {};
  for (const k of kinds) res[k] = await benchOne(k, seconds, workers, only);
  const rows = phases.map((p, i) => {
    const e = res.etcd?.kv[i];
    const t = res.tetcd?.kv[i];
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
  if (rows.length) printTable(head, rows);
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
    if (rows.length) console.log('');
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
