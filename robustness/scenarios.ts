// The faults, one per run: each picks its target and timing with the run's PRNG, injects the fault,
// holds it, heals, and says in one line what it did.
import { mkdirSync, rmSync } from 'node:fs';
import { Client } from '../test/helpers/client.ts';
import type { RCluster, RMember } from './cluster.ts';
import type { Rng } from './rand.ts';

export const SCENARIOS = [
  'kill',
  'pause',
  'partition',
  'delay',
  'failpoint',
  'starve',
  'member-replace',
  'blackhole-until-snapshot',
] as const;
export type Scenario = (typeof SCENARIOS)[number];
/** Named by issue 17, not built yet. */
export const NOT_BUILT = ['power-loss'];

/** Entries between snapshots, and (tetcd) entries kept after one, for blackhole-until-snapshot. */
const SNAPSHOT_COUNT = 100;
const TETCD_CATCHUP = 50;
/** etcd 3.4 keeps 5000 entries after a snapshot (snapshotCatchUpEntries, not a flag in 3.4). */
const ETCD_CATCHUP = 5000;

/** Flags every member of a run of `s` starts with. */
export function clusterArgs(s: Scenario, target: 'tetcd' | 'etcd'): string[] {
  if (s !== 'blackhole-until-snapshot') return [];
  return target === 'tetcd'
    ? ['--snapshot-count', String(SNAPSHOT_COUNT), '--snapshot-catchup-entries', String(TETCD_CATCHUP)]
    : ['--snapshot-count', String(SNAPSHOT_COUNT)];
}

/** tetcd's crash failpoints at the WAL's durability boundaries (src/pkg/failpoint.ts). */
const FAILPOINTS = ['walBeforeSave', 'walAfterSave'];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The leader (half the time, when one is agreed on within a second) or a random member. */
async function target(c: RCluster, rng: Rng): Promise<{ m: RMember; role: string }> {
  const wantLeader = rng.next() < 0.5;
  const pick = rng.pick(c.members);
  if (wantLeader) {
    const l = await c.leader(1000);
    if (l) return { m: l, role: 'leader' };
  }
  return { m: pick, role: 'member' };
}

/** Injects the fault, holds it, heals; resolves with a description once healed. */
export async function inject(s: Scenario, c: RCluster, rng: Rng): Promise<string> {
  const { m, role } = await target(c, rng);
  const t0 = performance.now();
  const took = () => `${Math.round(performance.now() - t0)} ms`;
  switch (s) {
    case 'kill': {
      const down = rng.between(500, 1500);
      await c.kill9(m);
      await sleep(down);
      await c.launch(m);
      return `kill -9 of ${m.name} (${role}), restarted after ${Math.round(down)} ms (back in ${took()})`;
    }
    case 'pause': {
      // Longer than the election timeout (1 s): the others elect a leader meanwhile if it led.
      const hold = rng.between(1500, 3000);
      c.pause(m);
      await sleep(hold);
      c.resume(m);
      return `SIGSTOP of ${m.name} (${role}) for ${took()}`;
    }
    case 'partition': {
      const hold = rng.between(1500, 3000);
      c.net.partition(m.name);
      await sleep(hold);
      c.net.heal();
      return `partition of ${m.name} (${role}) from its peers for ${took()}`;
    }
    case 'failpoint': {
      // Restart the member with a crash armed at a WAL boundary: it dies there on its own (kill -9
      // if it has not after 5 s), then it starts again without the failpoint.
      if (c.target !== 'tetcd')
        throw new Error("scenario failpoint needs tetcd's failpoints (etcd 3.4's release binary has none)");
      const fp = rng.pick(FAILPOINTS);
      const after = 5 + rng.int(45);
      await c.kill9(m);
      try {
        await c.launch(m, { TETCD_FAILPOINTS: `${fp}=crash@${after}` });
      } catch {
        // it crashed before serving: the failpoint fired during its replay or first writes
      }
      const crashed = await c.exitsWithin(m, 5000);
      if (!crashed) await c.kill9(m);
      await c.launch(m);
      return `${m.name} (${role}) restarted with ${fp}=crash@${after}: ${crashed ? 'crashed there' : 'not reached in 5 s, killed'}, restarted (back in ${took()})`;
    }
    case 'starve': {
      // Every member, on its own schedule, stalled 0.5-3 s at a time (SIGSTOP/SIGCONT) for about 4 s,
      // as on an overloaded host; `stableLeader` then measures how soon leadership settles.
      void role;
      const window = 4000;
      let stalls = 0;
      await Promise.all(
        c.members.map(async (x) => {
          const r = rng.fork(c.members.indexOf(x));
          while (performance.now() - t0 < window) {
            await sleep(r.between(0, 800));
            c.pause(x);
            stalls++;
            await sleep(r.between(500, 3000));
            c.resume(x);
          }
        }),
      );
      return `starve: ${stalls} stalls of 0.5-3 s over the 3 members for ${took()}`;
    }
    case 'blackhole-until-snapshot': {
      // A follower cut off until the others' raft index is past a snapshot plus the entries kept
      // after it: the leader can only catch it up with a snapshot (30 s at most, then heal anyway).
      const l = await c.leader(2000);
      const f = rng.pick(c.members.filter((x) => x !== l));
      const idx = async (x: RMember) => Number((await c.status(x))?.['raftIndex'] ?? 0);
      const gap = SNAPSHOT_COUNT + (c.target === 'tetcd' ? TETCD_CATCHUP : ETCD_CATCHUP) + 50;
      c.net.partition(f.name);
      const from = await idx(f);
      const other = c.members.find((x) => x !== f)!;
      let reached = false;
      while (performance.now() - t0 < 30_000) {
        await sleep(200);
        if ((await idx(other)) - from > gap) {
          reached = true;
          break;
        }
      }
      c.net.heal();
      // Both servers log it at info level: etcd "applied snapshot", tetcd "applied snapshot".
      let snap = false;
      for (let i = 0; i < 50 && !(snap = /applied snapshot/.test(c.logText(f))); i++) await sleep(200);
      return `${f.name} (follower) blackholed for ${took()}${snap ? ', then caught up by a snapshot' : ', no snapshot seen in its log'}${reached ? `, until the others were ${gap}+ entries ahead (a snapshot needed)` : `; the others did not get ${gap} entries ahead in 30 s`}`;
    }
    case 'member-replace':
      return memberReplace(c, m, role, rng, took);
    case 'delay': {
      const ms = rng.between(50, 250);
      const hold = rng.between(1500, 3000);
      c.net.delay(m.name, ms);
      await sleep(hold);
      c.net.heal();
      return `peer traffic of ${m.name} (${role}) delayed ~${Math.round(ms)} ms per chunk for ${took()}`;
    }
  }
}

/**
 * How long after the stalls one leader holds: every member names the same leader in the same term for
 * `holdMs` without a change. Resolves with the milliseconds until that began, or undefined if it did
 * not within `limitMs`.
 */
export async function stableLeader(
  c: RCluster,
  holdMs: number,
  limitMs: number,
): Promise<number | undefined> {
  const t0 = performance.now();
  let since: number | undefined;
  let who = '';
  while (performance.now() - t0 < limitMs + holdMs) {
    const sts = await Promise.all(c.members.map((m) => c.status(m, 500)));
    const ids = new Set(sts.map((s) => (s ? `${String(s['leader'])}/${String(s['raftTerm'])}` : 'down')));
    const id = ids.size === 1 ? [...ids][0]! : '';
    if (id !== '' && id !== 'down' && !id.startsWith('0/')) {
      if (id !== who) {
        who = id;
        since = performance.now();
      }
      if (performance.now() - since! >= holdMs) return since! - t0 <= limitMs ? since! - t0 : undefined;
    } else {
      who = '';
      since = undefined;
    }
    await sleep(50);
  }
  return undefined;
}

/** Calls the Cluster service through `via`, retrying for up to 10 s (a cluster just changed may refuse). */
async function clusterCall(
  via: RMember,
  method: string,
  req: Record<string, unknown>,
): Promise<Record<string, any>> {
  const until = performance.now() + 10_000;
  for (;;) {
    const cl = new Client(via.endpoint);
    try {
      return await cl.call('etcdserverpb.Cluster', method, req, 3000);
    } catch (e) {
      if (performance.now() > until)
        throw new Error(`${method} through ${via.name}: ${(e as Error).message}`);
    } finally {
      cl.close();
    }
    await sleep(200);
  }
}

/** Removes `m` from the cluster, wipes its data dir, adds it back (same name and URL) and starts it. */
async function memberReplace(
  c: RCluster,
  m: RMember,
  role: string,
  rng: Rng,
  took: () => string,
): Promise<string> {
  const via = rng.pick(c.members.filter((x) => x !== m));
  const url = `http://127.0.0.1:${m.proxyPort}`;
  const list = await clusterCall(via, 'MemberList', {});
  const me = (list['members'] as Record<string, any>[]).find((x) =>
    (x['peerURLs'] as string[]).includes(url),
  );
  if (!me) throw new Error(`member-replace: ${m.name} (${url}) is not in the member list`);
  await clusterCall(via, 'MemberRemove', { ID: me['ID'] });
  // A removed member stops by itself; kill -9 it if it has not within 5 s.
  if (!(await c.exitsWithin(m, 5000))) await c.kill9(m);
  rmSync(m.dataDir, { recursive: true, force: true });
  mkdirSync(m.dataDir, { recursive: true });
  await sleep(rng.between(200, 1000));
  await clusterCall(via, 'MemberAdd', { peerURLs: [url] });
  await c.launch(m, {}, ['--initial-cluster-state', 'existing']);
  return `${m.name} (${role}) removed through ${via.name}, wiped, added back and started (back in ${took()})`;
}
