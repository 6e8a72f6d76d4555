// A cluster of real `bin/tetcd` processes on loopback ports, each with its own temp data dir, for
// process-level cluster tests: start N members with etcd's bootstrap flags, kill -9 / restart one,
// find the leader through Maintenance.Status. Every cluster must be closed in an after() hook.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from './client.ts';
import { freePort, waitPort } from './procs.ts';

const ROOT = new URL('../..', import.meta.url).pathname;

export interface Member {
  name: string;
  clientPort: number;
  peerPort: number;
  endpoint: string;
  clientUrl: string;
  peerUrl: string;
  dataDir: string;
  proc: ChildProcess | undefined;
  stderr(): string;
}

/** A member's etcd flags (names, data dir, URLs, bootstrap, timing): the same for etcd and tetcd. */
export function memberArgs(
  m: Pick<Member, 'name' | 'dataDir' | 'clientUrl' | 'peerUrl'>,
  o: { initialCluster: string; token: string; heartbeatMs: number; electionMs: number },
): string[] {
  return [
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
    o.initialCluster,
    '--initial-cluster-token',
    o.token,
    '--heartbeat-interval',
    String(o.heartbeatMs),
    '--election-timeout',
    String(o.electionMs),
  ];
}

export interface ClusterOptions {
  heartbeatMs?: number;
  electionMs?: number;
  extraArgs?: string[];
  token?: string;
}

/** A member not started yet: free loopback ports and a fresh temp data dir (for start(), or to join). */
export async function newMember(name: string): Promise<Member> {
  const clientPort = await freePort();
  const peerPort = await freePort();
  return {
    name,
    clientPort,
    peerPort,
    endpoint: `127.0.0.1:${clientPort}`,
    clientUrl: `http://127.0.0.1:${clientPort}`,
    peerUrl: `http://127.0.0.1:${peerPort}`,
    dataDir: mkdtempSync(join(tmpdir(), `tetcd-cluster-${name}-`)),
    proc: undefined,
    stderr: () => '',
  };
}

function exited(p: ChildProcess): Promise<void> {
  return p.exitCode !== null || p.signalCode !== null
    ? Promise.resolve()
    : new Promise((r) => p.once('exit', () => r()));
}

export class TestCluster {
  readonly electionMs: number;
  private readonly logs = new Map<string, string>();

  private constructor(
    readonly members: Member[],
    private readonly opts: ClusterOptions,
  ) {
    this.electionMs = opts.electionMs ?? 1000;
  }

  static async start(n: number, opts: ClusterOptions = {}): Promise<TestCluster> {
    const members: Member[] = [];
    for (let i = 1; i <= n; i++) members.push(await newMember(`m${i}`));
    const c = new TestCluster(members, opts);
    await Promise.all(members.map((m) => c.launch(m)));
    return c;
  }

  get initialCluster(): string {
    return this.members.map((m) => `${m.name}=${m.peerUrl}`).join(',');
  }

  endpoints(): string[] {
    return this.members.map((m) => m.endpoint);
  }

  /** Starts `m`; `extraArgs` are for this launch only (e.g. --initial-cluster-state existing). */
  async launch(m: Member, extraArgs: string[] = []): Promise<void> {
    const args = [
      ...memberArgs(m, {
        initialCluster: this.initialCluster,
        token: this.opts.token ?? 'tetcd-test-cluster',
        heartbeatMs: this.opts.heartbeatMs ?? 100,
        electionMs: this.electionMs,
      }),
      '--log-level',
      'info',
      ...(this.opts.extraArgs ?? []),
      ...extraArgs,
    ];
    const proc = spawn(join(ROOT, 'bin/tetcd'), args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = this.logs.get(m.name) ?? '';
    proc.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.length > 400_000) err = err.slice(-200_000);
      this.logs.set(m.name, err);
    });
    m.proc = proc;
    m.stderr = () => this.logs.get(m.name) ?? '';
    try {
      await waitPort(m.clientPort, 20_000, proc);
    } catch (e) {
      throw new Error(`${m.name}: ${(e as Error).message}\n${m.stderr().slice(-2000)}`);
    }
  }

  async kill9(m: Member): Promise<void> {
    if (!m.proc) return;
    m.proc.kill('SIGKILL');
    await exited(m.proc);
    m.proc = undefined;
  }

  async stop(m: Member): Promise<void> {
    const p = m.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    p.kill('SIGTERM');
    const t = setTimeout(() => p.kill('SIGKILL'), 8000);
    await exited(p);
    clearTimeout(t);
    m.proc = undefined;
  }

  restart(m: Member): Promise<void> {
    return this.launch(m);
  }

  /** Status of one member, or undefined when it does not answer. */
  async status(m: Member, timeoutMs = 1000): Promise<Record<string, unknown> | undefined> {
    if (!m.proc) return undefined;
    const c = new Client(m.endpoint);
    try {
      return (await c.call('etcdserverpb.Maintenance', 'Status', {}, timeoutMs)) as Record<string, unknown>;
    } catch {
      return undefined;
    } finally {
      c.close();
    }
  }

  /**
   * Waits until every running member (or those in `among`) names the same leader, that leader being
   * one of them; returns it.
   */
  async waitLeader(
    timeoutMs = 10_000,
    among: Member[] = this.members.filter((m) => m.proc),
  ): Promise<Member> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const sts = await Promise.all(among.map((m) => this.status(m)));
      const leaders = new Set(sts.map((s) => (s ? String(s['leader']) : 'down')));
      if (leaders.size === 1) {
        const id = [...leaders][0]!;
        const idx = sts.findIndex(
          (s) => s && String(s['header'] && (s['header'] as { memberId: unknown }).memberId) === id,
        );
        if (id !== '0' && id !== 'down' && idx >= 0) return among[idx]!;
      }
      if (Date.now() > until)
        throw new Error(`no agreed leader after ${timeoutMs} ms: ${[...leaders].join(', ')}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.members.map((m) => this.stop(m)));
    for (const m of this.members) rmSync(m.dataDir, { recursive: true, force: true });
  }
}
