// tetcd-bench --defrag <MiB>: write latency while the backend is defragmented (issue 14). Each server
// in turn: load <MiB> of 64 KiB values, delete every other key and compact (so the file holds free
// pages), then run closed-loop 256-byte puts from 8 clients; p50/p99 are measured for a window with
// nothing else going on, then for the duration of one Defragment call issued meanwhile. etcd 3.4
// blocks every read and write while it defragments (etcd-io/etcd#9222); tetcd copies beside them.
import { startServer, type ServerHandle } from '../test/helpers/procs.ts';
import {
  RawGrpc,
  encodeCompaction,
  encodePut,
  encodeRange,
  headerRevision,
  topField,
} from '../src/client/raw_grpc.ts';
import { track, trackDir, untrackDir } from './cluster.ts';

const VALUE = 64 * 1024;
const CLIENTS = 8;
const NORMAL_MS = 5000;

export interface DefragResult {
  loadSec: number;
  normal: { p50: number; p99: number; max: number; ops: number };
  during: { p50: number; p99: number; max: number; ops: number };
  defragSec: number;
  sizeBefore: number;
  sizeAfter: number;
  errors: number;
}

function stats(lat: number[]): { p50: number; p99: number; max: number; ops: number } {
  const s = Float64Array.from(lat).sort();
  const at = (p: number) => (s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))]! : 0);
  return { p50: at(0.5), p99: at(0.99), max: s.length ? s[s.length - 1]! : 0, ops: s.length };
}

/** Maintenance.Status dbSize (field 3). */
async function dbSize(c: RawGrpc): Promise<number> {
  const v = topField((await c.unary('/etcdserverpb.Maintenance/Status', Buffer.alloc(0))).payload, 3);
  return typeof v === 'number' ? v : 0;
}

async function runOne(h: ServerHandle, mib: number): Promise<DefragResult> {
  const c = new RawGrpc(h.endpoint);
  const load = new RawGrpc(h.endpoint);
  try {
    const n = Math.ceil((mib * 1024 * 1024) / VALUE);
    const value = Buffer.alloc(VALUE, 0x62);
    const t0 = performance.now();
    let next = 0;
    let errors = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < n) {
          const i = next++;
          const r = await c.unary('/etcdserverpb.KV/Put', encodePut(Buffer.from(`defrag/${i}`), value));
          if (r.code !== 0) errors++;
          if (i % 512 === 0) process.stderr.write(`\r  ${h.kind.padEnd(5)} loading ${i}/${n} values `);
        }
      }),
    );
    for (let i = 0; i < n; i += 2) {
      await c.unary('/etcdserverpb.KV/DeleteRange', encodeRange(Buffer.from(`defrag/${i}`), false));
    }
    const rev = headerRevision(
      (await c.unary('/etcdserverpb.KV/Range', encodeRange(Buffer.from('x'), true))).payload,
    );
    await c.unary('/etcdserverpb.KV/Compact', encodeCompaction(rev, true));
    const loadSec = (performance.now() - t0) / 1000;
    const sizeBefore = await dbSize(c);
    process.stderr.write(
      `\r  ${h.kind.padEnd(5)} loaded in ${loadSec.toFixed(1)} s, db ${(sizeBefore / 2 ** 20).toFixed(0)} MiB\n`,
    );

    // Closed-loop writers. A put that overlaps the defragmentation (answered after it began) counts
    // as during it, so a put held up by a blocking defrag is not filed under the normal window.
    let stop = false;
    const done: { start: number; end: number }[] = [];
    const small = Buffer.alloc(256, 0x61);
    let k = 0;
    const writers = Array.from({ length: CLIENTS }, async () => {
      while (!stop) {
        const s = performance.now();
        const r = await load.unary('/etcdserverpb.KV/Put', encodePut(Buffer.from(`w/${k++ % 1000}`), small));
        if (r.code !== 0) errors++;
        done.push({ start: s, end: performance.now() });
      }
    });
    await new Promise((r) => setTimeout(r, 1000));
    const n0 = performance.now();
    await new Promise((r) => setTimeout(r, NORMAL_MS));
    const d0 = performance.now();
    const d = await c.unary('/etcdserverpb.Maintenance/Defragment', Buffer.alloc(0));
    const d1 = performance.now();
    const defragSec = (d1 - d0) / 1000;
    stop = true;
    await Promise.all(writers);
    if (d.code !== 0) throw new Error(`${h.kind} Defragment: ${d.code} ${d.message}`);
    const normal = done.filter((x) => x.start >= n0 && x.end < d0).map((x) => x.end - x.start);
    const during = done.filter((x) => x.end >= d0 && x.start <= d1).map((x) => x.end - x.start);
    return {
      loadSec,
      normal: stats(normal),
      during: stats(during),
      defragSec,
      sizeBefore,
      sizeAfter: await dbSize(c),
      errors,
    };
  } finally {
    c.close();
    load.close();
  }
}

export async function mainDefrag(mib: number, kinds: readonly ('etcd' | 'tetcd')[]): Promise<void> {
  if (!Number.isFinite(mib) || mib <= 0) throw new Error(`--defrag wants a size in MiB, got ${mib}`);
  process.stderr.write(
    `tetcd-bench --defrag ${mib}: ${mib} MiB of 64 KiB values, half deleted and compacted; ${CLIENTS} clients putting 256 B\n`,
  );
  const res: Partial<Record<'etcd' | 'tetcd', DefragResult>> = {};
  for (const kind of kinds) {
    const h = await startServer(kind, { args: ['--quota-backend-bytes', String(8 * 2 ** 30)] });
    track(h.proc);
    trackDir(h.dataDir);
    try {
      res[kind] = await runOne(h, mib);
    } finally {
      await h.destroy();
      untrackDir(h.dataDir);
    }
  }
  const ms = (x: number) => x.toFixed(2);
  const rows = kinds.map((k) => {
    const r = res[k]!;
    return [
      k,
      `${ms(r.normal.p50)}/${ms(r.normal.p99)}/${ms(r.normal.max)} (${r.normal.ops})`,
      `${ms(r.during.p50)}/${ms(r.during.p99)}/${ms(r.during.max)} (${r.during.ops})`,
      r.defragSec.toFixed(2),
      `${(r.sizeBefore / 2 ** 20).toFixed(0)} -> ${(r.sizeAfter / 2 ** 20).toFixed(0)}`,
      String(r.errors),
    ];
  });
  const head = [
    'server',
    'put p50/p99/max ms (ops), normal',
    'put p50/p99/max ms (ops), during defrag',
    'defrag s',
    'db MiB',
    'errors',
  ];
  const widths = head.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const line = (r: string[]) => `| ${r.map((x, c) => x.padEnd(widths[c]!)).join(' | ')} |`;
  console.log(line(head));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const r of rows) console.log(line(r));
  const e = res.etcd;
  const t = res.tetcd;
  if (e && t) {
    console.log(
      `\ntetcd/etcd: p99 during defrag ${(t.during.p99 / e.during.p99).toFixed(3)}x, ` +
        `max during defrag ${(t.during.max / e.during.max).toFixed(3)}x, defrag time ${(t.defragSec / e.defragSec).toFixed(2)}x`,
    );
  }
}
