// One run: a fresh 3-member cluster behind the peer proxies, a watcher per member, KV clients, one
// fault at a random moment, heal, more traffic, then wait for the members to agree, and check:
// linearizability, the watch guarantees, and HashKV equal on every member.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toNumber } from '../src/proto/index.ts';
import { Client } from '../test/helpers/client.ts';
import { checkLinearizable, settleUnknown } from './checker/linearizable.ts';
import { checkWatchers } from './checker/watch.ts';
import { RCluster, type Target } from './cluster.ts';
import type { Violation } from './history.ts';
import { Rng } from './rand.ts';
import { clusterArgs, inject, stableLeader, type Scenario } from './scenarios.ts';
import { KvClient, PREFIX, Recorder, Watcher } from './traffic.ts';

export interface RunOpts {
  scenario: Scenario;
  seed: number;
  target: Target;
  sabotage: string | undefined;
  keep: boolean;
  clients: number;
}

export interface RunResult {
  operations: number;
  failed: number;
  faults: number;
  fault: string;
  violations: Violation[];
  notes: string[];
  ms: number;
  dir: string;
}

const ELECTION_MS = 1000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `f` until it returns a value (not undefined) or `ms` pass. */
async function until<T>(ms: number, f: () => Promise<T | undefined>): Promise<T | undefined> {
  const end = performance.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined || performance.now() > end) return v;
    await sleep(100);
  }
}

export async function runOnce(o: RunOpts): Promise<RunResult> {
  const started = performance.now();
  const rng = new Rng(o.seed);
  const faultRng = rng.fork(1);
  const dir = mkdtempSync(join(tmpdir(), `robustness-${o.scenario}-${o.seed}-`));
  // serializable-read is the client's own doing (gets marked serializable); the others are the server's.
  const clientSide = o.sabotage === 'serializable-read';
  const env: Record<string, string> = o.sabotage && !clientSide ? { TETCD_SABOTAGE: o.sabotage } : {};
  const c = await RCluster.start({
    target: o.target,
    dir,
    electionMs: ELECTION_MS,
    heartbeatMs: 100,
    env,
    args: clusterArgs(o.scenario, o.target),
    jitter: () => faultRng.next(),
  }).catch((e: unknown) => {
    if (!o.keep) rmSync(dir, { recursive: true, force: true });
    throw e;
  });
  const rec = new Recorder();
  const watchers = c.members.map((m) => new Watcher(`watcher@${m.name}`, m.endpoint));
  const clients: KvClient[] = [];
  const violations: Violation[] = [];
  const notes: string[] = [];
  let fault = 'none';
  try {
    if (!(await c.leader(15_000))) throw new Error('the new cluster elected no leader in 15 s');
    for (const w of watchers) w.start();
    for (let i = 0; i < o.clients; i++)
      clients.push(
        new KvClient(i, c.members[i % 3]!.endpoint, rng.fork(100 + i), rec, `s${o.seed}-`, clientSide),
      );
    for (const k of clients) k.start();
    const termBefore = toNumber((await c.status(c.members[0]!))?.['raftTerm']);
    await sleep(faultRng.between(800, 1500));
    // One more watcher per member, from a random revision seen so far, with prev_kv: resumable from
    // any revision, and every prev_kv the key's value before the event.
    const seenRev = Math.max(1, ...rec.ops.map((x) => x.resp?.rev ?? 0));
    for (const m of c.members) {
      const from = 1 + rng.int(seenRev);
      const w = new Watcher(`watcher@${m.name}(from ${from}, prev_kv)`, m.endpoint, from, PREFIX, true);
      watchers.push(w);
      w.start();
    }
    fault = await inject(o.scenario, c, faultRng);
    if (o.scenario === 'starve') {
      // Issue 17: once the stalls stop, one stable leader within 3 election timeouts.
      const ms = await stableLeader(c, ELECTION_MS, 3 * ELECTION_MS);
      if (ms === undefined)
        violations.push({
          checker: 'leadership',
          what: `no leader held for ${ELECTION_MS} ms within ${3 * ELECTION_MS} ms of the last stall`,
          excerpt: [fault],
        });
      else notes.push(`stable leader ${Math.round(ms)} ms after the stalls`);
    }
    await sleep(1500);
    await Promise.all(clients.map((k) => k.stop()));

    // Healed: every member up and at the same revision.
    const sts = await until(30_000, async () => {
      const s = await Promise.all(c.members.map((m) => c.status(m)));
      const revs = new Set(s.map((x) => (x ? toNumber(x['header']?.revision) : -1)));
      return revs.size === 1 && !revs.has(-1) ? s : undefined;
    });
    if (!sts) {
      const s = await Promise.all(c.members.map((m) => c.status(m)));
      const revs = s.map(
        (x, i) => `${c.members[i]!.name} ${x ? `rev ${toNumber(x['header']?.revision)}` : 'no answer'}`,
      );
      throw new Error(
        `the members did not reach the same revision within 30 s of healing (${revs.join(', ')})`,
      );
    }
    const finalRev = toNumber(sts[0]!['header']?.revision);
    await until(15_000, async () => (watchers.every((w) => w.lastRev >= finalRev) ? true : undefined));
    const logs = watchers.map((w) => w.log(Math.min(finalRev, w.lastRev)));
    for (const w of watchers)
      if (w.lastRev < finalRev)
        violations.push({
          checker: 'watch',
          what: `${w.name} did not reach rev ${finalRev} within 15 s of healing`,
          excerpt: [`last event at rev ${w.lastRev}, ${w.resumes} resumes`],
        });

    // HashKV of every member at the final revision.
    const hashes = await Promise.all(
      c.members.map(async (m) => {
        const cl = new Client(m.endpoint);
        try {
          const r = await cl.call('etcdserverpb.Maintenance', 'HashKV', { revision: finalRev }, 5000);
          return String(r['hash']);
        } catch (e) {
          return `error: ${(e as Error).message}`;
        } finally {
          cl.close();
        }
      }),
    );
    if (new Set(hashes).size !== 1)
      violations.push({
        checker: 'hashkv',
        what: `HashKV at rev ${finalRev} differs between members`,
        excerpt: c.members.map((m, i) => `${m.name}: ${hashes[i]}`),
      });

    const settled = settleUnknown(rec.ops, logs, finalRev);
    const lin = checkLinearizable(settled);
    violations.push(...lin.violations);
    if (lin.unknownKeys.length) notes.push(`search bound reached on keys ${lin.unknownKeys.join(', ')}`);
    violations.push(...checkWatchers(rec.ops, logs));
    const ident = c.net.identified();
    const termAfter = Math.max(...sts.map((x) => toNumber(x!['raftTerm'])));
    notes.push(
      `term ${termBefore} -> ${termAfter}, final rev ${finalRev}, ${ident.known}/${ident.all} peer connections traced to their member`,
    );
    if (o.keep)
      writeFileSync(join(dir, 'history.json'), JSON.stringify({ ops: rec.ops, watchers: logs }, null, 1));
  } finally {
    for (const w of watchers) w.stop();
    await Promise.all(clients.map((k) => k.stop()));
    await c.close();
    if (!o.keep) rmSync(dir, { recursive: true, force: true });
  }
  return {
    operations: rec.ops.length,
    failed: rec.ops.filter((x) => !x.resp).length,
    faults: 1,
    fault,
    violations,
    notes,
    ms: performance.now() - started,
    dir,
  };
}
