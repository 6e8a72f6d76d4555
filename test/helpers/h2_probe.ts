// What the attack tests measure on a server process: a probe client's answer times (a plain
// node:http2 gRPC client on its own connection), the process's resident memory, and the attacker's
// report from its own process (h2_attacker_main.ts).
import http2 from 'node:http2';
import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { KV_RANGE, grpcMessage, rangeRequest } from './h2_wire.ts';
import type { AttackReport, AttackSpec } from './h2_attacker.ts';

const MiB = 1024 * 1024;

/** VmRSS of `pid` in bytes, or undefined once the process is gone. */
export function rssOf(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

export const mib = (b: number | undefined): string => (b === undefined ? '-' : `${(b / MiB).toFixed(0)} MiB`);

export interface LatencyStats {
  count: number;
  p50: number;
  p99: number;
  max: number;
}

export function latencyStats(xs: readonly number[]): LatencyStats {
  if (xs.length === 0) return { count: 0, p50: NaN, p99: NaN, max: NaN };
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
  return { count: s.length, p50: at(0.5), p99: at(0.99), max: s[s.length - 1]! };
}

export const showLatency = (l: LatencyStats): string =>
  `n=${l.count} p50=${l.p50.toFixed(1)}ms p99=${l.p99.toFixed(1)}ms max=${l.max.toFixed(1)}ms`;

export function openSession(port: number, ms = 3000): Promise<http2.ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const s = http2.connect(`http://127.0.0.1:${port}`);
    const t = setTimeout(() => {
      s.destroy();
      reject(new Error(`no HTTP/2 session within ${ms} ms`));
    }, ms);
    s.once('connect', () => {
      clearTimeout(t);
      resolve(s);
    });
    s.once('error', (e) => {
      clearTimeout(t);
      reject(e);
    });
  });
}

/**
 * One gRPC Range of `key` on `session`: resolves with the answer time in ms once the trailers say
 * grpc-status 0 after one message; rejects with what went wrong otherwise (or after `boundMs`).
 */
export function rangeOnce(session: http2.ClientHttp2Session, key: string, boundMs: number): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    let got = 0;
    let settled = false;
    const finish = (err?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(t);
      if (!req.closed) req.close(http2.constants.NGHTTP2_CANCEL);
      if (err !== undefined) reject(new Error(err));
      else resolve(performance.now() - t0);
    };
    const t = setTimeout(() => finish(`no answer within ${boundMs} ms`), boundMs);
    let req: http2.ClientHttp2Stream;
    try {
      req = session.request({
        ':method': 'POST',
        ':path': KV_RANGE,
        'content-type': 'application/grpc',
        te: 'trailers',
      });
    } catch (e) {
      clearTimeout(t);
      reject(e instanceof Error ? e : new Error(String(e)));
      return;
    }
    req.on('data', (d: Buffer) => (got += d.length));
    req.on('trailers', (h) => {
      const s = h['grpc-status'];
      if (s === '0' && got >= 5) finish();
      else finish(`grpc-status ${String(s)} ${String(h['grpc-message'] ?? '')}`);
    });
    req.on('response', (h) => {
      if (h['grpc-status'] !== undefined) finish(`trailers-only grpc-status ${String(h['grpc-status'])}`);
    });
    req.on('error', (e) => finish(`stream error: ${e.message}`));
    req.on('close', () => finish(`stream closed (rst ${req.rstCode})`));
    req.end(grpcMessage(rangeRequest(key)));
  });
}

/** One probe call: when it started (performance.now()), how long it took, and how it failed if it did. */
export interface ProbeSample {
  at: number;
  ms: number;
  error?: string;
}

/** A Range of `key` every `everyMs` on one connection; each answer's time or failure is kept. */
export class Probe {
  readonly samples: ProbeSample[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly running = new Set<Promise<void>>();

  private constructor(
    private readonly session: http2.ClientHttp2Session,
    private readonly key: string,
  ) {
    session.on('error', () => {});
    session.on('goaway', (code) =>
      this.samples.push({ at: performance.now(), ms: 0, error: `probe connection got GOAWAY ${code}` }),
    );
  }

  static async start(port: number, key: string, everyMs = 20): Promise<Probe> {
    const p = new Probe(await openSession(port), key);
    p.timer = setInterval(() => p.one(), everyMs);
    return p;
  }

  /** The samples of the calls started in [from, to). */
  between(from: number, to: number): ProbeSample[] {
    return this.samples.filter((s) => s.at >= from && s.at < to);
  }

  private one(): void {
    const at = performance.now();
    if (this.session.destroyed || this.session.closed) {
      this.samples.push({ at, ms: 0, error: 'probe connection closed' });
      return;
    }
    const run = rangeOnce(this.session, this.key, 5000).then(
      (ms) => void this.samples.push({ at, ms }),
      // A call that failed counts at the time it took, and as a failure.
      (e: Error) => void this.samples.push({ at, ms: performance.now() - at, error: e.message }),
    );
    this.running.add(run);
    void run.finally(() => this.running.delete(run));
  }

  /** Stops probing; waits for the calls under way (each is bounded by 5 s). */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await Promise.all([...this.running]);
    this.session.destroy();
  }
}

/** Runs `spec` in a child process; resolves with its report (rejects if it fails or overruns). */
export function forkAttack(spec: AttackSpec, extraMs = 20_000): Promise<AttackReport> {
  const main = new URL('./h2_attacker_main.ts', import.meta.url).pathname;
  const child = fork(main, [], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`attacker ${spec.kind} did not finish within ${spec.ms + extraMs} ms`));
    }, spec.ms + extraMs);
    child.once('message', (m: { report?: AttackReport; error?: string }) => {
      clearTimeout(t);
      if (m.report !== undefined) resolve(m.report);
      else reject(new Error(`attacker ${spec.kind} failed: ${m.error}`));
    });
    child.once('exit', (code) => {
      clearTimeout(t);
      reject(new Error(`attacker ${spec.kind} exited (${code}) without a report`));
    });
    child.send(spec);
  });
}
