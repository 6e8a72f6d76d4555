// N-member etcd 3.4 or tetcd clusters for tetcd-bench --cluster: the same bootstrap flags for both
// servers, loopback ports from freePort(), one temp data dir per member (removed on close), and a
// leader found through Maintenance.Status. Every child process the benchmark starts is tracked here so
// that an error, Ctrl-C or SIGTERM never leaves a server or a load worker running.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitPort } from '../test/helpers/procs.ts';
import { RawGrpc } from '../src/client/raw_grpc.ts';

const ROOT = new URL('..', import.meta.url).pathname;

export class ClusterStartError extends Error {}

const tracked = new Set<ChildProcess>();
const tempDirs = new Set<string>();
let handlersInstalled = false;

/** SIGKILLs every tracked child still running and removes the temp dirs; synchronous, for exit paths. */
function killAllNow(): void {
  for (const p of tracked) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  tracked.clear();
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
  tempDirs.clear();
}

function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', killAllNow);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      process.stderr.write(`\ntetcd-bench: ${sig}, stopping all servers and workers\n`);
      killAllNow();
      process.exit(130);
    });
  }
}

/** Registers a child (server or load worker) to be killed if the benchmark exits early. */
export function track(p: ChildProcess): ChildProcess {
  installHandlers();
  tracked.add(p);
  p.once('exit', () => tracked.delete(p));
  return p;
}

/** Registers a temp dir to be removed if the benchmark exits early. */
export function trackDir(d: string): void {
  installHandlers();
  tempDirs.add(d);
}

export function untrackDir(d: string): void {
  tempDirs.delete(d);
}

export interface BenchMember {
  name: string;
  clientPort: number;
  endpoint: string;
  clientUrl: string;
  peerUrl: string;
  dataDir: string;
  proc: ChildProcess;
  /** Tail of the member's stderr (its log). */
  log(): string;
}

/** Reads one unsigned varint as a bigint (member ids use all 64 bits). */
function readVarint(b: Buffer, at: number): [bigint, number] {
  let v = 0n;
  let shift = 0n;
  for (;;) {
    const x = b[at++];
    if (x === undefined) throw new RangeError('truncated varint');
    v |= BigInt(x & 0x7f) << shift;
    shift += 7n;
    if (x < 0x80) return [v, at];
  }
}

/** Top-level varint and bytes fields of a protobuf message (enough for StatusResponse). */
function fields(b: Buffer): Map<number, bigint | Buffer> {
  const out = new Map<number, bigint | Buffer>();
  let i = 0;
  while (i < b.length) {
    const [tag, a] = readVarint(b, i);
    const field = Number(tag >> 3n);
    const wire = Number(tag & 7n);
    if (wire === 0) {
      const [v, n] = readVarint(b, a);
      out.set(field, v);
      i = n;
    } else if (wire === 2) {
      const [len, n] = readVarint(b, a);
      out.set(field, b.subarray(n, n + Number(len)));
      i = n + Number(len);
    } else if (wire === 1) i = a + 8;
    else if (wire === 5) i = a + 4;
    else throw new RangeError(`wire type ${wire}`);
  }
  return out;
}

export interface MemberStatus {
  memberId: bigint;
  leader: bigint;
}

/** Maintenance.Status of one member (header.member_id = 1.2, leader = 4), or undefined if down. */
export async function memberStatus(endpoint: string, timeoutMs = 1000): Promise<MemberStatus | undefined> {
  const c = new RawGrpc(endpoint);
  try {
    const timeout = new Promise<undefined>((r) => setTimeout(() => r(undefined), timeoutMs).unref());
    const r = await Promise.race([c.unary('/etcdserverpb.Maintenance/Status', Buffer.alloc(0)), timeout]);
    if (!r || r.code !== 0) return undefined;
    const top = fields(r.payload);
    const header = top.get(1);
    const memberId = Buffer.isBuffer(header) ? fields(header).get(2) : undefined;
    const leader = top.get(4);
    if (typeof memberId !== 'bigint') return undefined;
    return { memberId, leader: typeof leader === 'bigint' ? leader : 0n };
  } catch {
    return undefined;
  } finally {
    c.close();
  }
}

export class BenchCluster {
  private constructor(
    readonly kind: 'etcd' | 'tetcd',
    readonly members: BenchMember[],
  ) {}

  /** Starts all members together (etcd serves clients only once a quorum has formed). */
  static async start(kind: 'etcd' | 'tetcd', n: number, logLevel = 'warn'): Promise<BenchCluster> {
    installHandlers();
    const plan: { name: string; clientPort: number; peerPort: number; dataDir: string }[] = [];
    for (let i = 1; i <= n; i++) {
      const dataDir = mkdtempSync(join(tmpdir(), `bench-${kind}-m${i}-`));
      tempDirs.add(dataDir);
      plan.push({ name: `m${i}`, clientPort: await freePort(), peerPort: await freePort(), dataDir });
    }
    const initialCluster = plan.map((p) => `${p.name}=http://127.0.0.1:${p.peerPort}`).join(',');
    const members = plan.map((p): BenchMember => {
      const clientUrl = `http://127.0.0.1:${p.clientPort}`;
      const peerUrl = `http://127.0.0.1:${p.peerPort}`;
      const args = [
        '--name',
        p.name,
        '--data-dir',
        p.dataDir,
        '--listen-client-urls',
        clientUrl,
        '--advertise-client-urls',
        clientUrl,
        '--listen-peer-urls',
        peerUrl,
        '--initial-advertise-peer-urls',
        peerUrl,
        '--initial-cluster',
        initialCluster,
        '--initial-cluster-state',
        'new',
        '--initial-cluster-token',
        'bench',
        '--heartbeat-interval',
        '100',
        '--election-timeout',
        '1000',
        '--log-level',
        logLevel,
        ...(kind === 'etcd' ? ['--logger', 'zap'] : []),
      ];
      const cmd = kind === 'etcd' ? 'etcd' : join(ROOT, 'bin/tetcd');
      const proc = track(spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] }));
      let log = '';
      proc.stderr!.on('data', (d: Buffer) => {
        log += d.toString();
        if (log.length > 200_000) log = log.slice(-100_000);
      });
      return {
        name: p.name,
        clientPort: p.clientPort,
        endpoint: `127.0.0.1:${p.clientPort}`,
        clientUrl,
        peerUrl,
        dataDir: p.dataDir,
        proc,
        log: () => log,
      };
    });
    const c = new BenchCluster(kind, members);
    try {
      await Promise.all(
        members.map((m) =>
          waitPort(m.clientPort, 30_000, m.proc).catch((e: Error) => {
            throw new Error(`${kind} ${m.name}: ${e.message}`);
          }),
        ),
      );
    } catch (e) {
      const logs = c.logs();
      await c.close(true);
      throw new ClusterStartError(`${(e as Error).message}\n${logs}`);
    }
    return c;
  }

  pids(): number[] {
    return this.members.map((m) => m.proc.pid!);
  }

  /** Last `chars` characters of every member's log, labelled, for error reports. */
  logs(chars = 3000): string {
    return this.members
      .map((m) => `--- ${this.kind} ${m.name} log tail ---\n${m.log().slice(-chars)}`)
      .join('\n');
  }

  /** Waits until every member names the same non-zero leader that is one of them; returns it. */
  async waitLeader(timeoutMs = 20_000): Promise<BenchMember> {
    const until = Date.now() + timeoutMs;
    let last = '';
    for (;;) {
      const sts = await Promise.all(this.members.map((m) => memberStatus(m.endpoint)));
      last = sts
        .map((s, i) => `${this.members[i]!.name}: ${s ? `leader ${s.leader.toString(16)}` : 'no answer'}`)
        .join(', ');
      const leaders = new Set(sts.map((s) => (s ? s.leader : -1n)));
      if (leaders.size === 1) {
        const id = [...leaders][0]!;
        const idx = sts.findIndex((s) => s?.memberId === id);
        if (id > 0n && idx >= 0) return this.members[idx]!;
      }
      for (const m of this.members)
        if (m.proc.exitCode !== null || m.proc.signalCode !== null)
          throw new ClusterStartError(
            `${this.kind} ${m.name} exited (${m.proc.exitCode ?? m.proc.signalCode})`,
          );
      if (Date.now() > until)
        throw new ClusterStartError(`${this.kind}: no agreed leader after ${timeoutMs} ms (${last})`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** SIGTERM (SIGKILL after 8 s, or at once with `hard`), then removes the data dirs. */
  async close(hard = false): Promise<void> {
    await Promise.all(
      this.members.map(async (m) => {
        const p = m.proc;
        if (p.exitCode === null && p.signalCode === null) {
          const gone = new Promise<void>((r) => p.once('exit', () => r()));
          p.kill(hard ? 'SIGKILL' : 'SIGTERM');
          const t = setTimeout(() => p.kill('SIGKILL'), 8000);
          await gone;
          clearTimeout(t);
        }
        rmSync(m.dataDir, { recursive: true, force: true });
        tempDirs.delete(m.dataDir);
      }),
    );
  }
}
