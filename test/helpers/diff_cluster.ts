// A cluster of either etcd 3.4 or tetcd processes, started with the same etcd flags, for differential
// cluster tests (the same scenario against both, then the transcripts compared). Loopback ports, temp
// data dirs, bounded waits; every cluster must be closed in an after() hook.
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from './client.ts';
import { memberArgs, newMember, type Member } from './cluster.ts';
import { waitPort } from './procs.ts';

const ROOT = new URL('../..', import.meta.url).pathname;

export type Kind = 'etcd' | 'tetcd';
export type { Member } from './cluster.ts';

function exited(p: ChildProcess): Promise<void> {
  return p.exitCode !== null || p.signalCode !== null
    ? Promise.resolve()
    : new Promise((r) => p.once('exit', () => r()));
}

export class DiffCluster {
  readonly members: Member[] = [];

  private constructor(
    readonly kind: Kind,
    readonly electionMs: number,
    private readonly heartbeatMs: number,
    /** More flags, given to every member (the same for etcd and tetcd). */
    private readonly args: string[] = [],
  ) {}

  /** Starts `n` members of `kind` as one new cluster. */
  static async start(
    kind: Kind,
    n: number,
    opts: { electionMs?: number; heartbeatMs?: number; args?: string[] } = {},
  ) {
    const c = new DiffCluster(kind, opts.electionMs ?? 1000, opts.heartbeatMs ?? 100, opts.args);
    for (let i = 1; i <= n; i++) c.members.push(await newMember(`m${i}`));
    const initial = c.members.map((m) => `${m.name}=${m.peerUrl}`).join(',');
    await Promise.all(c.members.map((m) => c.launch(m, initial, 'new')));
    return c;
  }

  /** A member not started yet (ports, data dir), for `member add`; closed with the cluster. */
  async newMember(name: string): Promise<Member> {
    const m = await newMember(name);
    this.members.push(m);
    return m;
  }

  async launch(m: Member, initialCluster: string, state: 'new' | 'existing'): Promise<void> {
    const args = [
      ...memberArgs(m, {
        initialCluster,
        token: 'diff-cluster',
        heartbeatMs: this.heartbeatMs,
        electionMs: this.electionMs,
      }),
      '--initial-cluster-state',
      state,
      '--log-level',
      'error',
      ...(this.kind === 'etcd' ? ['--logger', 'zap'] : []),
      ...this.args,
    ];
    const cmd = this.kind === 'etcd' ? 'etcd' : join(ROOT, 'bin/tetcd');
    const proc = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    proc.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.length > 200_000) err = err.slice(-100_000);
    });
    m.proc = proc;
    m.stderr = () => err;
    try {
      await waitPort(m.clientPort, 20_000, proc);
    } catch (e) {
      throw new Error(`${this.kind} ${m.name}: ${(e as Error).message}\n${err.slice(-2000)}`);
    }
  }

  async kill9(m: Member): Promise<void> {
    if (!m.proc) return;
    m.proc.kill('SIGKILL');
    await exited(m.proc);
    m.proc = undefined;
  }

  /** Status of one member, or undefined when it does not answer. */
  async status(m: Member, timeoutMs = 1000): Promise<Record<string, any> | undefined> {
    if (!m.proc) return undefined;
    const c = new Client(m.endpoint);
    try {
      return await c.call('etcdserverpb.Maintenance', 'Status', {}, timeoutMs);
    } catch {
      return undefined;
    } finally {
      c.close();
    }
  }

  /** Waits until every running member names the same leader, among them; returns it. */
  async waitLeader(timeoutMs = 15_000): Promise<Member> {
    const among = this.members.filter((m) => m.proc);
    const until = Date.now() + timeoutMs;
    for (;;) {
      const sts = await Promise.all(among.map((m) => this.status(m)));
      const leaders = new Set(sts.map((s) => (s ? String(s['leader']) : 'down')));
      if (leaders.size === 1) {
        const id = [...leaders][0]!;
        const idx = sts.findIndex((s) => s && String(s['header']?.memberId) === id);
        if (id !== '0' && idx >= 0) return among[idx]!;
      }
      if (Date.now() > until) throw new Error(`${this.kind}: no agreed leader after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.members.map((m) => this.kill9(m)));
    for (const m of this.members) rmSync(m.dataDir, { recursive: true, force: true });
  }
}
