// One load-generating process: `concurrency` request loops over a few HTTP/2 connections, each loop
// issuing its next request when the previous answers. Reports every latency (microseconds).
import { RawGrpc, encodePut, encodeRange } from '../src/client/raw_grpc.ts';

export interface WorkerJob {
  endpoint: string;
  /** When set, connections are spread round-robin over these instead of `endpoint`. */
  endpoints?: string[];
  op: 'put' | 'range' | 'range-serializable';
  concurrency: number;
  connections: number;
  durationMs: number;
  /** Load sent before the measured window (connections, JIT and caches warm), not counted. */
  warmupMs: number;
  worker: number;
  keySpace: number;
  valueSize: number;
  /** An auth token sent with every request (the auth scenario). */
  token?: string;
}

export interface WorkerResult {
  ops: number;
  errors: number;
  firstError: string;
  latenciesUs: number[];
  /** Length of the measured window: from its start until the last request answered. */
  windowMs: number;
}

async function run(job: WorkerJob): Promise<WorkerResult> {
  const eps = job.endpoints?.length ? job.endpoints : [job.endpoint];
  const conns = Array.from(
    { length: job.connections },
    (_, i) => new RawGrpc(eps[i % eps.length]!, job.token),
  );
  const value = Buffer.alloc(job.valueSize, 0x61);
  const path = job.op === 'put' ? '/etcdserverpb.KV/Put' : '/etcdserverpb.KV/Range';
  const latencies: number[] = [];
  let errors = 0;
  let firstError = '';
  const measureFrom = performance.now() + job.warmupMs;
  const until = measureFrom + job.durationMs;
  let n = 0;
  await Promise.all(
    Array.from({ length: job.concurrency }, async (_, loop) => {
      const c = conns[loop % conns.length]!;
      while (performance.now() < until) {
        const i = n++;
        const key = Buffer.from(`bench/${job.worker}/${String(i % job.keySpace).padStart(6, '0')}`);
        const payload =
          job.op === 'put'
            ? encodePut(key, value)
            : encodeRange(
                Buffer.from(`bench/0/${String(i % 1000).padStart(6, '0')}`),
                job.op === 'range-serializable',
              );
        const t0 = performance.now();
        const r = await c.unary(path, payload);
        if (t0 < measureFrom) continue;
        latencies.push((performance.now() - t0) * 1000);
        if (r.code !== 0) {
          errors++;
          firstError ||= `${r.code} ${r.message}`;
        }
      }
    }),
  );
  const windowMs = performance.now() - measureFrom;
  for (const c of conns) c.close();
  return { ops: latencies.length, errors, firstError, latenciesUs: latencies, windowMs };
}

process.on('message', (job: WorkerJob) => {
  run(job).then(
    (r) => process.send!(r, () => process.exit(0)),
    (err: unknown) => {
      process.send!({ ops: 0, errors: 1, firstError: String(err), latenciesUs: [], windowMs: 0 }, () =>
        process.exit(1),
      );
    },
  );
});
