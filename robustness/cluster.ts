// The cluster of a robustness run: 3 members of etcd 3.4 or tetcd as real processes with etcd's flags,
// each peer port behind a proxy (proxy.ts) that the members advertise, so partitions and delays need no
// privileges. Members can be killed (-9) and restarted on the same data dir, paused (SIGSTOP) and
// resumed. Every process started here is killed when this process exits, however it exits.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { Client } from '../test/helpers/client.ts';
import { freePort, waitPort } from '../test/helpers/procs.ts';
import { PeerNet, type ProxiedMember } from './proxy.ts';

const ROOT = new URL('..', import.meta.url).pathname;

export type Target = 'tetcd' | 'etcd';

export interface RMember extends ProxiedMember {
  clientPort: number;
  endpoint: string;
  dataDir: string;
  proc: ChildProcess | undefined;
  paused: boolean;
}

const live = new Set<ChildProcess>();
let hooked = false;
function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', () => {
    for (const p of live) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  });
}

function exited(p: ChildProcess): Promise<void> {
  return p.exitCode !== null || p.signalCode !== null
    ? Promise.resolve()
    : new Promise((r) => p.once('exit', () => r()));
}

export interface ClusterOpts {
  target: Target;
  dir: string;
  electionMs: number;
  heartbeatMs: number;
  env: Record<string, string>;
  /** More flags for every member. */
  args: string[];
  jitter: () => number;
}

export class RCluster {
  private readonly logs = new Map<string, WriteStream>();

  private constructor(
    readonly members: RMember[],
    readonly net: PeerNet,
    private readonly o: ClusterOpts,
  ) {}

  static async start(o: ClusterOpts): Promise<RCluster> {
    hookExit();
    const members: RMember[] = [];
    for (let i = 1; i <= 3; i++) {
      const clientPort = await freePort();
      const m: RMember = {
        name: `m${i}`,
        clientPort,
        peerPort: await freePort(),
        proxyPort: await freePort(),
        endpoint: `127.0.0.1:${clientPort}`,
        dataDir: join(o.dir, `m${i}.data`),
        proc: undefined,
        paused: false,
        pid: () => m.proc?.pid,
      };
      mkdirSync(m.dataDir, { recursive: true });
      members.push(m);
    }
    const net = await PeerNet.start(members, o.jitter);
    const c = new RCluster(members, net, o);
    const started = await Promise.allSettled(members.map((m) => c.launch(m)));
    const failed = started.find((r) => r.status === 'rejected');
    if (failed) {
      await c.close();
      throw new Error(`the cluster did not start: ${(failed.reason as Error).message}`);
    }
    return c;
  }

  get initialCluster(): string {
    return this.members.map((m) => `${m.name}=http://127.0.0.1:${m.proxyPort}`).join(',');
  }

  /** Starts `m` (again); `env` is more environment for this launch only (e.g. tetcd's failpoints). */
  async launch(m: RMember, env: Record<string, string> = {}, extraArgs: string[] = []): Promise<void> {
    const url = `http://127.0.0.1:${m.clientPort}`;
    const args = [
      '--name', m.name,
      '--data-dir', m.dataDir,
      '--listen-client-urls', url,
      '--advertise-client-urls', url,
      '--listen-peer-urls', `http://127.0.0.1:${m.peerPort}`,
      '--initial-advertise-peer-urls', `http://127.0.0.1:${m.proxyPort}`,
      '--initial-cluster', this.initialCluster,
      '--initial-cluster-token', 'robustness',
      '--heartbeat-interval', String(this.o.heartbeatMs),
      '--election-timeout', String(this.o.electionMs),
      ...(this.o.target === 'etcd' ? ['--logger', 'zap', '--log-level', 'info'] : ['--log-level', 'info']),
      ...this.o.args,
      ...extraArgs,
    ]; // prettier-ignore
    const cmd = this.o.target === 'etcd' ? 'etcd' : join(ROOT, 'bin/tetcd');
    const proc = spawn(cmd, args, {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, ...this.o.env, ...env },
    });
    live.add(proc);
    proc.once('exit', () => live.delete(proc));
    let log = this.logs.get(m.name);
    if (!log) {
      log = createWriteStream(join(this.o.dir, `${m.name}.log`), { flags: 'a' });
      this.logs.set(m.name, log);
    }
    const out = log;
    proc.stderr!.on('data', (d: Buffer) => out.write(d));
    m.proc = proc;
    m.paused = false;
    await waitPort(m.clientPort, 30_000, proc);
  }

  /** Resolves true when `m` exits by itself within `ms` (a crash failpoint fired). */
  async exitsWithin(m: RMember, ms: number): Promise<boolean> {
    const p = m.proc;
    if (!p) return true;
    let t: NodeJS.Timeout | undefined;
    const done = await Promise.race([
      exited(p).then(() => true),
      new Promise<boolean>((r) => (t = setTimeout(() => r(false), ms))),
    ]);
    clearTimeout(t);
    if (done) m.proc = undefined;
    return done;
  }

  /** What `m` has logged so far (its log file in the run's dir). */
  logText(m: RMember): string {
    try {
      return readFileSync(join(this.o.dir, `${m.name}.log`), 'utf8');
    } catch {
      return '';
    }
  }

  get target(): Target {
    return this.o.target;
  }

  async kill9(m: RMember): Promise<void> {
    const p = m.proc;
    if (!p) return;
    p.kill('SIGKILL');
    await exited(p);
    m.proc = undefined;
    m.paused = false;
  }

  pause(m: RMember): void {
    m.proc?.kill('SIGSTOP');
    m.paused = true;
  }

  resume(m: RMember): void {
    m.proc?.kill('SIGCONT');
    m.paused = false;
  }

  /** Maintenance.Status of one member, or undefined when it does not answer in time. */
  async status(m: RMember, timeoutMs = 1000): Promise<Record<string, any> | undefined> {
    if (!m.proc || m.paused) return undefined;
    const c = new Client(m.endpoint);
    try {
      return await c.call('etcdserverpb.Maintenance', 'Status', {}, timeoutMs);
    } catch {
      return undefined;
    } finally {
      c.close();
    }
  }

  /** The member every running member names as leader, or undefined when they do not agree in time. */
  async leader(timeoutMs: number): Promise<RMember | undefined> {
    const until = performance.now() + timeoutMs;
    for (;;) {
      const among = this.members.filter((m) => m.proc && !m.paused);
      const sts = await Promise.all(among.map((m) => this.status(m)));
      const ids = new Set(sts.map((s) => (s ? String(s['leader']) : 'down')));
      if (ids.size === 1) {
        const id = [...ids][0]!;
        const i = sts.findIndex((s) => s && String(s['header']?.memberId) === id);
        if (i >= 0) return among[i];
      }
      if (performance.now() > until) return undefined;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async close(): Promise<void> {
    await this.net.close();
    for (const m of this.members) {
      if (m.paused) this.resume(m);
      await this.kill9(m);
    }
    await Promise.all([...this.logs.values()].map((l) => new Promise((r) => l.end(() => r(undefined)))));
  }
}
