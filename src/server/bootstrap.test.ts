import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../pkg/logger.ts';
import { walExists, type Entry } from '../wal/wal.ts';
import { META_CONSISTENT_INDEX } from '../backend/schema.ts';
import { addMemberConfChange } from '../membership/cluster.ts';
import { ConfChangeType, EntryType, NO_LIMIT } from '../raft/index.ts';
import { marshalConfChange, unmarshalConfChange } from '../raft/raftpb_codec.ts';
import { BootstrapError, openMember, type BootConfig } from './bootstrap.ts';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'tetcd-boot-'));
  dirs.push(d);
  return d;
}

function config(dataDir: string, walDir?: string): BootConfig {
  return {
    name: 'n1',
    dataDir,
    advertisePeerUrls: ['http://127.0.0.1:2380'],
    initialCluster: '',
    initialClusterState: 'new',
    initialClusterToken: 'tok',
    electionTicks: 10,
    preVote: true,
    walDir,
    logger: createLogger('silent'),
  };
}

/** Opens a member, writes one entry to its WAL (as its first Ready would) and closes it. */
async function runOnce(cfg: BootConfig): Promise<bigint> {
  const b = await openMember(cfg);
  await b.wal.save({ term: 1, vote: 0n, commit: 1 }, [{ index: 1, term: 1, data: Buffer.from('e1') }]);
  await b.wal.close();
  await b.backend.close();
  return b.memberId;
}

/** Every file under `dir` with its size and mtime (LMDB's lock file aside: opening the database rewrites it). */
function listing(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else if (n !== 'data.mdb-lock') out.push(`${p} ${st.size} ${st.mtimeMs}`);
    }
  };
  walk(dir);
  return out.sort();
}

test('with --wal-dir the WAL lives there and a restart reads it back', async () => {
  const data = tmp();
  const walDir = join(tmp(), 'wal');
  const id = await runOnce(config(data, walDir));
  assert.ok(walExists(walDir));
  assert.equal(existsSync(join(data, 'member', 'wal')), false, 'no WAL in the data dir');
  const b = await openMember(config(data, walDir));
  try {
    assert.equal(b.memberId, id);
    assert.deepEqual(
      b.contents.entries.map((e) => e.index),
      [1],
    );
  } finally {
    await b.wal.close();
    await b.backend.close();
  }
});

test('a WAL in <data-dir>/member/wal while --wal-dir names another directory is refused, nothing written', async () => {
  const data = tmp();
  await runOnce(config(data));
  const before = listing(data);
  const walDir = join(tmp(), 'wal');
  await assert.rejects(openMember(config(data, walDir)), (e: unknown) => {
    assert.ok(e instanceof BootstrapError);
    assert.equal(
      e.message,
      `the WAL of this member is in ${join(data, 'member', 'wal')}, not in --wal-dir ${walDir}; move its files to ${walDir} or start without --wal-dir`,
    );
    return true;
  });
  assert.equal(existsSync(walDir), false);
  assert.deepEqual(listing(data), before);
  // --wal-dir naming the default place is the default.
  const b = await openMember(config(data, join(data, 'member', 'wal')));
  assert.equal(b.contents.entries.length, 1);
  await b.wal.close();
  await b.backend.close();
});

test('two WALs (one in the data dir, one in --wal-dir) are refused', async () => {
  const data = tmp();
  await runOnce(config(data));
  const walDir = join(tmp(), 'wal');
  await runOnce(config(tmp(), walDir));
  await assert.rejects(
    openMember(config(data, walDir)),
    new BootstrapError(
      `both ${join(data, 'member', 'wal')} and --wal-dir ${walDir} hold a WAL; remove the one that is not this member's`,
    ),
  );
});

test("a member's database without its WAL (started before with --wal-dir) is refused, nothing written", async () => {
  const data = tmp();
  const walDir = join(tmp(), 'wal');
  await runOnce(config(data, walDir));
  const before = listing(data);
  await assert.rejects(
    openMember(config(data)),
    new BootstrapError(
      `${data} holds a member's database but ${join(data, 'member', 'wal')} holds no WAL; start with the --wal-dir this member ran with`,
    ),
  );
  assert.equal(existsSync(join(data, 'member', 'wal')), false);
  assert.deepEqual(listing(data), before);
});

/**
 * A member of n1..n3 (n4 a learner) whose WAL holds the four conf changes and `extra` entries, with
 * the hard state's commit at `commit`; returns its data dir.
 */
async function threeMembers(
  extra: number,
  commit: number,
  applied?: number,
): Promise<{ data: string; others: bigint[] }> {
  const data = tmp();
  const urls = [1, 2, 3].map((i) => `n${i}=http://127.0.0.1:${2380 + i}`);
  const cfg = {
    ...config(data),
    advertisePeerUrls: ['http://127.0.0.1:2381'],
    initialCluster: urls.join(','),
  };
  const b = await openMember(cfg);
  const ents: Entry[] = b.cluster
    .members()
    .map((m, i) => ({ index: i + 1, term: 1, ...marshalConfChange(addMemberConfChange(m)) }));
  const learner = {
    id: 0x44n,
    name: 'n4',
    peerURLs: ['http://127.0.0.1:2384'],
    clientURLs: [],
    isLearner: true,
  };
  ents.push({ index: 4, term: 1, ...marshalConfChange(addMemberConfChange(learner)) });
  for (let i = 0; i < extra; i++) ents.push({ index: 5 + i, term: 2, data: Buffer.from(`put ${5 + i}`) });
  await b.wal.save({ term: 2, vote: 0n, commit }, ents);
  if (applied !== undefined) {
    const ci = Buffer.alloc(8);
    ci.writeBigUInt64BE(BigInt(applied));
    b.backend.put('meta', META_CONSISTENT_INDEX, ci);
    await b.backend.commit();
  }
  await b.wal.close();
  await b.backend.close();
  const others = [...b.cluster.members().map((m) => m.id), learner.id].filter((id) => id !== b.memberId);
  return { data, others: others.sort((x, y) => (x < y ? -1 : 1)) };
}

/** The log a forced restart hands raft after the four conf changes ("index/term what"), and its commit. */
async function forcedLog(data: string): Promise<{ log: string[]; commit: number }> {
  const cfg = { ...config(data), advertisePeerUrls: ['http://127.0.0.1:2381'], forceNewCluster: true };
  const b = await openMember(cfg);
  try {
    const st = b.storage;
    const log = st.entries(st.firstIndex(), st.lastIndex() + 1, NO_LIMIT).map((e) => {
      if (e.type !== EntryType.EntryConfChange)
        return `${e.index}/${e.term} ${Buffer.from(e.data).toString()}`;
      const cc = unmarshalConfChange(e.type, e.data);
      if ('transition' in cc) throw new Error('v2');
      return `${e.index}/${e.term} ${ConfChangeType[cc.type]} ${cc.nodeId.toString(16)}`;
    });
    return {
      log: log.slice(4),
      commit: st.initialState().hardState.commit,
    };
  } finally {
    await b.wal.close();
    await b.backend.close();
  }
}

test('--force-new-cluster drops uncommitted entries and appends the removal of every other member, learners too', async () => {
  const { data, others } = await threeMembers(3, 6);
  assert.equal(others.length, 3);
  const { log, commit } = await forcedLog(data);
  assert.deepEqual(log, [
    '5/2 put 5',
    '6/2 put 6',
    ...others.map((id, i) => `${7 + i}/2 ConfChangeRemoveNode ${id.toString(16)}`),
  ]);
  assert.equal(commit, 6 + others.length, 'the removals count as committed');
  // The removals were written: a later restart without the flag finds them in the WAL.
  const again = await openMember({ ...config(data), advertisePeerUrls: ['http://127.0.0.1:2381'] });
  assert.deepEqual(
    again.contents.entries.map((e) => e.index),
    [1, 2, 3, 4, 5, 6, 7, 8, 9],
  );
  await again.wal.close();
  await again.backend.close();
});

test('--force-new-cluster keeps entries the backend applied even when the WAL commit index lags', async () => {
  // Commit 4 in the WAL, but the backend applied up to 6: entries 5 and 6 were committed.
  const { log } = await forcedLog((await threeMembers(3, 4, 6)).data);
  assert.deepEqual(log.slice(0, 2), ['5/2 put 5', '6/2 put 6']);
  assert.match(log[2]!, /^7\/2 ConfChangeRemoveNode/);
});
