// tetcd-bench --scale N (issue 16): how each server holds N keys. For etcd 3.4 and tetcd in turn, one
// member: N puts of 256-byte values (keys `scale/%08d`) from 64 closed-loop clients (the same loader for
// both), then the load rate, the resident size after the load, the time of a restart (SIGTERM, start,
// until the first linearizable read answers) and the resident size after it, and a Range over the
// whole keyspace (its time and the server's peak resident size meanwhile, sampled every 20 ms).
import { readFileSync } from 'node:fs';
import { startServer, type ServerHandle } from '../test/helpers/procs.ts';
import { RawGrpc, encodePut, topField } from '../src/client/raw_grpc.ts';
import { track, trackDir, untrackDir } from './cluster.ts';

const CLIENTS = 64;
const CONNECTIONS = 4;
const VALUE = Buffer.alloc(256, 0x76);

export interface ScaleResult {
  loadRate: number;
  rssAfterLoad: number;
  restartSec: number;
  rssAfterRestart: number;
  rangeSec: number;
  rangePeakRss: number;
  rangeCount: number;
  errors: number;
}

/** Resident set size of `pid` in bytes (VmRSS). */
export function rssBytes(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

const key = (i: number) => Buffer.from(`scale/${String(i).padStart(8, '0')}`);

/** RangeRequest {key = 1, range_end = 2, count_only = 8 when asked}. */
function rangeAll(countOnly: boolean): Buffer {
  const k = Buffer.from('scale/');
  const end = Buffer.from('scale0');
  const parts = [Buffer.from([0x0a, k.length]), k, Buffer.from([0x12, end.length]), end];
  if (countOnly) parts.push(Buffer.from([0x40, 1]));
  return Buffer.concat(parts);
}

/** RangeResponse.count (field 4). */
function countOf(b: Buffer): number {
  const v = topField(b, 4);
  return typeof v === 'number' ? v : 0;
}

async function load(h: ServerHandle, n: number): Promise<{ rate: number; errors: number }> {
  const conns = Array.from({ length: CONNECTIONS }, () => new RawGrpc(h.endpoint));
  let next = 0;
  let errors = 0;
  const t0 = performance.now();
  const progress = setInterval(
    () => process.stderr.write(`\r  ${h.kind.padEnd(5)} loading ${next}/${n} `),
    1000,
  );
  try {
    await Promise.all(
      Array.from({ length: CLIENTS }, async (_, c) => {
        const conn = conns[c % CONNECTIONS]!;
        while (next < n) {
          const i = next++;
          const r = await conn.unary('/etcdserverpb.KV/Put', encodePut(key(i), VALUE));
          if (r.code !== 0) errors++;
        }
      }),
    );
  } finally {
    clearInterval(progress);
    for (const c of conns) c.close();
  }
  const sec = (performance.now() - t0) / 1000;
  process.stderr.write(`\r  ${h.kind.padEnd(5)} loaded ${n} keys in ${sec.toFixed(1)} s\n`);
  return { rate: n / sec, errors };
}

async function runOne(kind: 'tetcd' | 'etcd', n: number): Promise<ScaleResult> {
  let h = await startServer(kind, { args: ['--quota-backend-bytes', String(8 * 2 ** 30)], startMs: 600_000 });
  track(h.proc);
  trackDir(h.dataDir);
  try {
    const { rate, errors } = await load(h, n);
    await new Promise((r) => setTimeout(r, 2000)); // let batches and GC settle
    const rssAfterLoad = rssBytes(h.proc.pid!);
    await h.stop();
    const t0 = performance.now();
    h = await h.restart();
    track(h.proc);
    const c = new RawGrpc(h.endpoint);
    let count = 0;
    try {
      for (let tries = 0; tries < 6000; tries++) {
        const r = await c.unary('/etcdserverpb.KV/Range', rangeAll(true));
        if (r.code === 0) {
          count = countOf(r.payload);
          break;
        }
        await new Promise((res) => setTimeout(res, 100));
      }
      const restartSec = (performance.now() - t0) / 1000;
      process.stderr.write(`  ${kind.padEnd(5)} restarted in ${restartSec.toFixed(2)} s (${count} keys)\n`);
      await new Promise((r) => setTimeout(r, 2000));
      const rssAfterRestart = rssBytes(h.proc.pid!);
      let peak = rssBytes(h.proc.pid!);
      const sampler = setInterval(() => (peak = Math.max(peak, rssBytes(h.proc.pid!))), 20);
      const r0 = performance.now();
      const all = await c.unary('/etcdserverpb.KV/Range', rangeAll(false));
      const rangeSec = (performance.now() - r0) / 1000;
      clearInterval(sampler);
      peak = Math.max(peak, rssBytes(h.proc.pid!));
      return {
        loadRate: rate,
        rssAfterLoad,
        restartSec,
        rssAfterRestart,
        rangeSec,
        rangePeakRss: peak,
        rangeCount: all.code === 0 ? countOf(all.payload) : -all.code,
        errors,
      };
    } finally {
      c.close();
    }
  } finally {
    await h.destroy();
    untrackDir(h.dataDir);
  }
}

export async function mainScale(n: number, kinds: readonly ('etcd' | 'tetcd')[]): Promise<void> {
  if (!Number.isInteger(n) || n <= 0) throw new Error(`--scale wants a key count, got ${n}`);
  process.stderr.write(`tetcd-bench --scale ${n}: ${n} puts of 256-byte values, ${CLIENTS} clients\n`);
  const res: Partial<Record<'etcd' | 'tetcd', ScaleResult>> = {};
  for (const k of kinds) res[k] = await runOne(k, n);
  const mib = (b: number) => (b / 2 ** 20).toFixed(0);
  const rows: [string, (r: ScaleResult) => number, (x: number) => string][] = [
    ['load rate (puts/s)', (r) => r.loadRate, (x) => x.toFixed(0)],
    ['RSS after load (MiB)', (r) => r.rssAfterLoad, mib],
    ['restart until the first read (s)', (r) => r.restartSec, (x) => x.toFixed(2)],
    ['RSS after restart (MiB)', (r) => r.rssAfterRestart, mib],
    ['full range (s)', (r) => r.rangeSec, (x) => x.toFixed(2)],
    ['peak RSS during the full range (MiB)', (r) => r.rangePeakRss, mib],
  ];
  const e = res.etcd;
  const t = res.tetcd;
  const table = rows.map(([name, get, fmt]) => [
    name,
    e ? fmt(get(e)) : '-',
    t ? fmt(get(t)) : '-',
    e && t ? `${(get(t) / get(e)).toFixed(2)}x` : '-',
  ]);
  const head = [`${n} keys`, 'etcd 3.4', 'tetcd', 'tetcd/etcd'];
  const widths = head.map((h, c) => Math.max(h.length, ...table.map((r) => r[c]!.length)));
  const line = (r: string[]) => `| ${r.map((x, c) => x.padEnd(widths[c]!)).join(' | ')} |`;
  console.log(line(head));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const r of table) console.log(line(r));
  for (const k of kinds) {
    const r = res[k]!;
    if (r.errors || r.rangeCount !== n)
      console.log(`${k}: ${r.errors} put errors, full range returned ${r.rangeCount} of ${n} keys`);
  }
}
