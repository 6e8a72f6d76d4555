// tetcd-bench --snapshot <MiB> (issue 14): a backend of <MiB> (64 KiB values) saved with `etcdctl
// snapshot save` while writes go on, then restored (etcdctl snapshot restore for etcd, tetcdutl for
// tetcd). Printed: the save's time, the member's resident size before and its peak during the save
// (sampled every 20 ms), the put p99 during the save, and the restore's time and peak resident size.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from '../test/helpers/procs.ts';
import { RawGrpc, encodePut } from '../src/client/raw_grpc.ts';
import { track, trackDir, untrackDir } from './cluster.ts';
import { rssBytes } from './scale.ts';

const VALUE = 64 * 1024;
const ROOT = new URL('..', import.meta.url).pathname;

interface SnapResult {
  saveSec: number;
  fileMiB: number;
  rssBefore: number;
  rssPeak: number;
  putP99: number;
  puts: number;
  restoreSec: number;
  restorePeakRss: number;
}

/** Runs a command; resolves with its exit code and its peak resident size (sampled every 20 ms). */
function run(cmd: string, args: string[]): Promise<{ code: number; peak: number; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, ETCDCTL_API: '3' },
    });
    let stderr = '';
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    let peak = 0;
    // tetcdutl is a shell script that execs node: the pid stays the same.
    const t = setInterval(() => (peak = Math.max(peak, rssBytes(p.pid!))), 20);
    p.on('error', reject);
    p.on('close', (code) => {
      clearInterval(t);
      resolve({ code: code ?? -1, peak, stderr });
    });
  });
}

async function runOne(kind: 'tetcd' | 'etcd', mib: number): Promise<SnapResult> {
  const h = await startServer(kind, {
    args: ['--quota-backend-bytes', String(8 * 2 ** 30)],
    startMs: 120_000,
  });
  track(h.proc);
  trackDir(h.dataDir);
  const work = mkdtempSync(join(tmpdir(), `${kind}-snapbench-`));
  trackDir(work);
  const c = new RawGrpc(h.endpoint);
  try {
    const n = Math.ceil((mib * 2 ** 20) / VALUE);
    const value = Buffer.alloc(VALUE, 0x63);
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < n) {
          const i = next++;
          const r = await c.unary('/etcdserverpb.KV/Put', encodePut(Buffer.from(`snap/${i}`), value));
          if (r.code !== 0) throw new Error(`${kind} put: ${r.message}`);
          if (i % 1024 === 0) process.stderr.write(`\r  ${kind.padEnd(5)} loading ${i}/${n} `);
        }
      }),
    );
    process.stderr.write(`\r  ${kind.padEnd(5)} loaded ${n} values\n`);
    await new Promise((r) => setTimeout(r, 2000));
    const pid = h.proc.pid!;
    const rssBefore = rssBytes(pid);
    let peak = rssBefore;
    const sampler = setInterval(() => (peak = Math.max(peak, rssBytes(pid))), 20);
    // Writes go on during the save: 4 closed-loop clients of 256-byte puts.
    let stop = false;
    const lat: number[] = [];
    const small = Buffer.alloc(256, 0x61);
    const writers = Array.from({ length: 4 }, async (_, w) => {
      for (let i = 0; !stop; i++) {
        const t0 = performance.now();
        await c.unary('/etcdserverpb.KV/Put', encodePut(Buffer.from(`w/${w}/${i % 100}`), small));
        lat.push(performance.now() - t0);
      }
    });
    const file = join(work, 'snap.db');
    const s0 = performance.now();
    const save = await run('etcdctl', [
      `--endpoints=${h.endpoint}`,
      '--command-timeout=600s',
      'snapshot',
      'save',
      file,
    ]);
    const saveSec = (performance.now() - s0) / 1000;
    stop = true;
    await Promise.all(writers);
    clearInterval(sampler);
    if (save.code !== 0) throw new Error(`${kind} snapshot save: ${save.stderr.trim().split('\n').pop()}`);
    const fileMiB = statSync(file).size / 2 ** 20;
    const r0 = performance.now();
    const restoreArgs = ['snapshot', 'restore', file, '--data-dir', join(work, 'restored')];
    const restore =
      kind === 'etcd'
        ? await run('etcdctl', restoreArgs)
        : await run(join(ROOT, 'bin/tetcdutl'), restoreArgs);
    const restoreSec = (performance.now() - r0) / 1000;
    if (restore.code !== 0)
      throw new Error(`${kind} snapshot restore: ${restore.stderr.trim().split('\n').pop()}`);
    lat.sort((a, b) => a - b);
    return {
      saveSec,
      fileMiB,
      rssBefore,
      rssPeak: peak,
      putP99: lat[Math.floor(lat.length * 0.99)] ?? 0,
      puts: lat.length,
      restoreSec,
      restorePeakRss: restore.peak,
    };
  } finally {
    c.close();
    await h.destroy();
    untrackDir(h.dataDir);
    rmSync(work, { recursive: true, force: true });
    untrackDir(work);
  }
}

export async function mainSnapshot(mib: number, kinds: readonly ('etcd' | 'tetcd')[]): Promise<void> {
  if (!Number.isFinite(mib) || mib <= 0) throw new Error(`--snapshot wants a size in MiB, got ${mib}`);
  process.stderr.write(`tetcd-bench --snapshot ${mib}: save under writes, then restore\n`);
  const res: Partial<Record<'etcd' | 'tetcd', SnapResult>> = {};
  for (const k of kinds) res[k] = await runOne(k, mib);
  const m = (b: number) => (b / 2 ** 20).toFixed(0);
  const head = [
    'server',
    'file MiB',
    'save s',
    'RSS before -> peak MiB (growth)',
    'put p99 ms during save (puts)',
    'restore s',
    'restore peak RSS MiB',
  ];
  const rows = kinds.map((k) => {
    const r = res[k]!;
    return [
      k,
      r.fileMiB.toFixed(0),
      r.saveSec.toFixed(2),
      `${m(r.rssBefore)} -> ${m(r.rssPeak)} (+${m(r.rssPeak - r.rssBefore)})`,
      `${r.putP99.toFixed(2)} (${r.puts})`,
      r.restoreSec.toFixed(2),
      m(r.restorePeakRss),
    ];
  });
  const widths = head.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const line = (r: string[]) => `| ${r.map((x, c) => x.padEnd(widths[c]!)).join(' | ')} |`;
  console.log(line(head));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const r of rows) console.log(line(r));
}
