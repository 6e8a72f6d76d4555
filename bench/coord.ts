// Watch and lease scenarios of tetcd-bench. Each runs its load in separate worker processes
// (coord_worker.ts): watchers that count events without decoding them, a closed-loop writer, and
// closed-loop keep-alive streams. Workers first set up (watchers created, leases granted), then all
// start together for the measured window.
import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { ServerHandle } from '../test/helpers/procs.ts';
import { etcdctl } from '../test/helpers/procs.ts';
import { RawGrpc, encodeCompaction, encodeRange, headerRevision } from '../src/client/raw_grpc.ts';
import type { CoordJob, CoordMsg } from './coord_worker.ts';

export interface CoordScenario {
  name: string;
  group: 'watch' | 'lease';
  /** Watchers (watch) or keep-alive streams (lease). */
  n: number;
}

export const COORD_SCENARIOS: CoordScenario[] = [
  { name: 'watch, 100 watchers, 1 writer', group: 'watch', n: 100 },
  { name: 'watch, 1000 watchers, 1 writer', group: 'watch', n: 1000 },
  { name: 'lease keep-alive, 1000 streams', group: 'lease', n: 1000 },
];

export interface CoordResult {
  /** Events delivered per second (watch) or keep-alive answers per second (lease). */
  rate: number;
  /** Puts per second (watch) or p99 keep-alive latency in ms (lease). */
  aux: number;
  /** Delivered / (puts x watchers), watch only. */
  fanout: number;
  errors: number;
  serverCpuSec: number;
  clientCpuSec: number;
}

export function cpuSeconds(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return 0;
  }
}

/**
 * Compacts history away (and defragments etcd, every member of `h.endpoints` when given) so leftover
 * history does not slow the next phase.
 */
export async function compactAll(h: {
  kind: 'etcd' | 'tetcd';
  endpoint: string;
  endpoints?: string[];
}): Promise<void> {
  const c = new RawGrpc(h.endpoint);
  try {
    const r = await c.unary('/etcdserverpb.KV/Range', encodeRange(Buffer.from('bench/'), true));
    const rev = headerRevision(r.payload);
    if (rev > 1) await c.unary('/etcdserverpb.KV/Compact', encodeCompaction(rev, true));
  } finally {
    c.close();
  }
  if (h.kind === 'etcd') await etcdctl((h.endpoints ?? [h.endpoint]).join(','), ['defrag']);
}

interface Worker {
  child: ChildProcess;
  count: number;
  ready: Promise<void>;
  result: Promise<Extract<CoordMsg, { type: 'result' }>>;
  cpu: number;
}

function startWorker(job: CoordJob): Worker {
  const child = fork(new URL('./coord_worker.ts', import.meta.url).pathname, [], {
    execArgv: ['--import', 'tsx'],
  });
  const w = { child, count: 0, cpu: 0 } as Worker;
  w.ready = new Promise((resolve, reject) => {
    child.on('message', (m: CoordMsg) => {
      if (m.type === 'ready') resolve();
      else if (m.type === 'progress') w.count = m.count;
    });
    child.once('exit', (code) => reject(new Error(`worker exited with ${code} before it was ready`)));
  });
  w.result = new Promise((resolve, reject) => {
    child.on('message', (m: CoordMsg) => {
      if (m.type !== 'result') return;
      w.count = m.count;
      w.cpu = cpuSeconds(child.pid!);
      resolve(m);
    });
    child.once('error', reject);
  });
  w.ready.catch(() => {});
  child.send(job);
  return w;
}

export async function runCoord(
  h: ServerHandle,
  sc: CoordScenario,
  seconds: number,
  workers: number,
): Promise<CoordResult> {
  const endpoint = h.endpoint;
  const main: Worker[] = [];
  const extra: Worker[] = [];
  // Up to 100 watchers or streams fit one worker; more are spread over all of them.
  const nWorkers = sc.n <= 100 ? 1 : workers;
  const per = Math.ceil(sc.n / nWorkers);
  for (let i = 0; i < nWorkers; i++) {
    const count = Math.min(per, sc.n - i * per);
    main.push(
      startWorker(
        sc.group === 'watch'
          ? { kind: 'watch', endpoint, watchers: count, connections: 4, streams: 16, prefix: 'bench/w/' }
          : { kind: 'keepalive', endpoint, streams: count, connections: 4 },
      ),
    );
  }
  if (sc.group === 'watch') {
    const job: CoordJob = {
      kind: 'write',
      endpoint,
      concurrency: 16,
      prefix: 'bench/w/',
      keySpace: 1000,
      valueSize: 64,
    };
    extra.push(startWorker(job));
  }
  const all = [...main, ...extra];
  await Promise.all(all.map((w) => w.ready));
  const serverCpu0 = cpuSeconds(h.proc.pid!);
  const started = performance.now();
  for (const w of all) w.child.send({ type: 'go', durationMs: seconds * 1000 });
  const progress = setInterval(() => {
    const s = (performance.now() - started) / 1000;
    const n = main.reduce((a, w) => a + w.count, 0);
    process.stderr.write(
      `\r  ${h.kind.padEnd(5)} ${sc.name.padEnd(34)} ${s.toFixed(0)}/${seconds}s ${(n / s).toFixed(0).padStart(9)}/s `,
    );
  }, 500);
  const results = await Promise.all(all.map((w) => w.result));
  const elapsed = (performance.now() - started) / 1000;
  clearInterval(progress);
  process.stderr.write('\n');
  const errors = results.reduce((n, r) => n + r.errors, 0);
  if (errors)
    process.stderr.write(`  ${errors} errors, first: ${results.find((r) => r.firstError)?.firstError}\n`);
  const delivered = main.reduce((a, w) => a + w.count, 0);
  const rate = delivered / elapsed;
  let aux: number;
  let fanout = 0;
  if (sc.group === 'watch') {
    const puts = extra[0]!.count;
    aux = puts / elapsed;
    fanout = puts > 0 ? delivered / (puts * sc.n) : 0;
  } else {
    const lat = Float64Array.from(results.flatMap((r) => r.latenciesUs)).sort();
    aux = lat.length ? lat[Math.min(lat.length - 1, Math.floor(0.99 * lat.length))]! / 1000 : 0;
  }
  return {
    rate,
    aux,
    fanout,
    errors,
    serverCpuSec: cpuSeconds(h.proc.pid!) - serverCpu0,
    clientCpuSec: all.reduce((a, w) => a + w.cpu, 0),
  };
}
