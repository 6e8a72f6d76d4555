// A stalled host must not cost the leader. Five times the whole 3-member cluster stops (SIGSTOP of
// every member: a GC pause or a paused VM looks the same to raft) for 2 s while a client writes; after
// each SIGCONT the members must go on with the same leader in the same term, as etcd 3.4 does (its
// ticker drops the ticks missed meanwhile), and every write must succeed (it may wait out the stall).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from './helpers/client.ts';
import { TestCluster } from './helpers/cluster.ts';
import { freePort, haveEtcd, waitPort } from './helpers/procs.ts';

const STALLS = 5;
const STALL_MS = 2000;
const AFTER_MS = 1000;
const WRITE_DEADLINE_MS = 10_000;

interface Node {
  name: string;
  endpoint: string;
  proc: () => ChildProcess | undefined;
  stderr: () => string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface View {
  term: number;
  leader: string;
}

async function view(n: Node): Promise<View | undefined> {
  const c = new Client(n.endpoint);
  try {
    const s = await c.call('etcdserverpb.Maintenance', 'Status', {}, 2000);
    return { term: Number(s['raftTerm']), leader: String(s['leader']) };
  } catch {
    return undefined;
  } finally {
    c.close();
  }
}

/** Every member's view once they all answer and agree on a leader (bounded). */
async function agreed(nodes: Node[], timeoutMs: number): Promise<View[]> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const vs = await Promise.all(nodes.map(view));
    if (vs.every((v) => v && v.leader !== '0' && v.leader === vs[0]!.leader)) return vs as View[];
    if (Date.now() > until) throw new Error(`no agreed leader: ${JSON.stringify(vs)}`);
    await sleep(100);
  }
}

function signalAll(nodes: Node[], sig: NodeJS.Signals): void {
  for (const n of nodes) n.proc()?.kill(sig);
}

interface Outcome {
  before: View[];
  after: View[];
  writes: number;
  failures: string[];
  slowestMs: number;
}

/** Writes continuously (round robin over the members, one request at a time) through the stalls. */
async function stallRun(nodes: Node[]): Promise<Outcome> {
  const before = await agreed(nodes, 15_000);
  const clients = nodes.map((n) => new Client(n.endpoint));
  let stop = false;
  let writes = 0;
  let slowestMs = 0;
  const failures: string[] = [];
  const writer = (async () => {
    for (let i = 0; !stop && i < 100_000; i++) {
      const t0 = Date.now();
      try {
        await clients[i % clients.length]!.call(
          'etcdserverpb.KV',
          'Put',
          { key: Buffer.from(`stall/${i % 100}`), value: Buffer.from(String(i)) },
          WRITE_DEADLINE_MS,
        );
        writes++;
      } catch (err) {
        failures.push(`put ${i} via ${nodes[i % nodes.length]!.name}: ${(err as Error).message}`);
      }
      slowestMs = Math.max(slowestMs, Date.now() - t0);
    }
  })();
  try {
    await sleep(AFTER_MS);
    for (let s = 0; s < STALLS; s++) {
      signalAll(nodes, 'SIGSTOP');
      try {
        await sleep(STALL_MS);
      } finally {
        signalAll(nodes, 'SIGCONT');
      }
      await sleep(AFTER_MS);
    }
  } finally {
    stop = true;
    await writer;
    for (const c of clients) c.close();
  }
  const afterViews = await agreed(nodes, 15_000);
  return { before, after: afterViews, writes, failures, slowestMs };
}

function check(label: string, o: Outcome): void {
  console.log(
    `${label}: terms before ${o.before.map((v) => v.term).join('/')}, after ${o.after.map((v) => v.term).join('/')}; ` +
      `leader ${o.before[0]!.leader} -> ${o.after[0]!.leader}; ${o.writes} writes, ${o.failures.length} failed, ` +
      `slowest ${o.slowestMs} ms`,
  );
  assert.deepEqual(o.failures, [], 'every write must succeed');
  assert.ok(o.writes > 0, 'the client wrote');
  assert.deepEqual(
    o.after.map((v) => v.term),
    o.before.map((v) => v.term),
    'the raft term of every member is unchanged',
  );
  assert.equal(o.after[0]!.leader, o.before[0]!.leader, 'the same leader');
}

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanups) await c();
});

test('tetcd: 5 stalls of the whole cluster keep the leader and the term', { timeout: 60_000 }, async () => {
  const cluster = await TestCluster.start(3);
  const nodes: Node[] = cluster.members.map((m) => ({
    name: m.name,
    endpoint: m.endpoint,
    proc: () => m.proc,
    stderr: () => m.stderr(),
  }));
  const close = async () => {
    signalAll(nodes, 'SIGCONT');
    await cluster.close();
  };
  cleanups.push(close);
  try {
    const o = await stallRun(nodes);
    for (const n of nodes) {
      const changes = n
        .stderr()
        .match(/"msg":"(raft\.node: lost leader|stepped down as leader|became leader)"/g);
      console.log(`  ${n.name}: ${changes?.length ?? 0} leadership log lines (the first election included)`);
    }
    check('tetcd', o);
  } finally {
    await close();
  }
});

/** A 3-member etcd 3.4 cluster on loopback ports (etcd's defaults: heartbeat 100 ms, election 1 s). */
async function startEtcd(): Promise<{ nodes: Node[]; close(): Promise<void> }> {
  const ports = [];
  for (let i = 0; i < 3; i++) ports.push({ client: await freePort(), peer: await freePort() });
  const initial = ports.map((p, i) => `e${i + 1}=http://127.0.0.1:${p.peer}`).join(',');
  const dirs: string[] = [];
  const procs: ChildProcess[] = [];
  const logs = ['', '', ''];
  const nodes = ports.map((p, i): Node => {
    const dir = mkdtempSync(join(tmpdir(), 'etcd-stall-'));
    dirs.push(dir);
    const client = `http://127.0.0.1:${p.client}`;
    const peer = `http://127.0.0.1:${p.peer}`;
    const proc = spawn(
      'etcd',
      [
        ...['--name', `e${i + 1}`, '--data-dir', dir],
        ...['--listen-client-urls', client, '--advertise-client-urls', client],
        ...['--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer],
        ...[
          '--initial-cluster',
          initial,
          '--initial-cluster-token',
          'stall',
          '--initial-cluster-state',
          'new',
        ],
        ...['--heartbeat-interval', '100', '--election-timeout', '1000'],
        ...['--logger', 'zap', '--log-outputs', 'stderr'],
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    proc.stderr!.on('data', (d: Buffer) => {
      logs[i] = (logs[i]! + d.toString()).slice(-400_000);
    });
    procs.push(proc);
    return { name: `e${i + 1}`, endpoint: `127.0.0.1:${p.client}`, proc: () => proc, stderr: () => logs[i]! };
  });
  await Promise.all(ports.map((p, i) => waitPort(p.client, 20_000, procs[i]!)));
  return {
    nodes,
    async close() {
      await Promise.all(
        procs.map(
          (p) =>
            new Promise<void>((resolve) => {
              if (p.exitCode !== null || p.signalCode !== null) return resolve();
              p.once('exit', () => resolve());
              p.kill('SIGCONT');
              p.kill('SIGKILL');
            }),
        ),
      );
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    },
  };
}

test('etcd 3.4 (reference): the same stalls keep its leader and term', { timeout: 60_000 }, async (t) => {
  if (!haveEtcd()) {
    t.skip('etcd 3.4 is not installed: the reference half of the stall test did NOT run');
    return;
  }
  const etcd = await startEtcd();
  cleanups.push(() => etcd.close());
  try {
    const o = await stallRun(etcd.nodes);
    for (const n of etcd.nodes) {
      const changes = n.stderr().match(/became (pre-candidate|candidate)/g);
      console.log(
        `  ${n.name}: ${changes?.length ?? 0} (pre-)candidate log lines (the first election included)`,
      );
    }
    check('etcd', o);
  } finally {
    await etcd.close();
  }
});
