// A cluster of real etcd 3.4 processes on loopback ports, each with its own temp data dir, started
// with the same bootstrap flags TestCluster gives tetcd, for differential cluster tests. Every cluster
// must be closed in an after() hook.
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { newMember, type Member } from './cluster.ts';
import { waitPort } from './procs.ts';

export interface EtcdClusterOptions {
  heartbeatMs?: number;
  electionMs?: number;
  extraArgs?: string[];
}

function exited(p: ChildProcess): Promise<void> {
  return p.exitCode !== null || p.signalCode !== null
    ? Promise.resolve()
    : new Promise((r) => p.once('exit', () => r()));
}

export class EtcdCluster {
  private constructor(readonly members: Member[]) {}

  static async start(n: number, opts: EtcdClusterOptions = {}): Promise<EtcdCluster> {
    const members: Member[] = [];
    for (let i = 1; i <= n; i++) members.push(await newMember(`m${i}`));
    const initial = members.map((m) => `${m.name}=${m.peerUrl}`).join(',');
    const c = new EtcdCluster(members);
    for (const m of members) {
      const proc = spawn(
        'etcd',
        [
          '--name',
          m.name,
          '--data-dir',
          m.dataDir,
          '--listen-client-urls',
          m.clientUrl,
          '--advertise-client-urls',
          m.clientUrl,
          '--listen-peer-urls',
          m.peerUrl,
          '--initial-advertise-peer-urls',
          m.peerUrl,
          '--initial-cluster',
          initial,
          '--initial-cluster-token',
          'etcd-test-cluster',
          '--heartbeat-interval',
          String(opts.heartbeatMs ?? 100),
          '--election-timeout',
          String(opts.electionMs ?? 1000),
          '--logger',
          'zap',
          '--log-level',
          'error',
          ...(opts.extraArgs ?? []),
        ],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
      let err = '';
      proc.stderr!.on('data', (d: Buffer) => {
        err += d.toString();
        if (err.length > 200_000) err = err.slice(-100_000);
      });
      m.proc = proc;
      m.stderr = () => err;
    }
    try {
      await Promise.all(members.map((m) => waitPort(m.clientPort, 20_000, m.proc!)));
    } catch (e) {
      await c.close();
      throw e;
    }
    return c;
  }

  async kill9(m: Member): Promise<void> {
    if (!m.proc) return;
    m.proc.kill('SIGKILL');
    await exited(m.proc);
    m.proc = undefined;
  }

  async close(): Promise<void> {
    await Promise.all(
      this.members.map(async (m) => {
        const p = m.proc;
        if (!p || p.exitCode !== null || p.signalCode !== null) return;
        p.kill('SIGTERM');
        const t = setTimeout(() => p.kill('SIGKILL'), 5000);
        await exited(p);
        clearTimeout(t);
        m.proc = undefined;
      }),
    );
    for (const m of this.members) rmSync(m.dataDir, { recursive: true, force: true });
  }
}
