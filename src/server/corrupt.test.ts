import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import {
  checkHashKV,
  checkInitialHashKV,
  DataInconsistencyError,
  monitorKVHash,
  type CorruptCheckDeps,
  type HashAt,
  type PeerHash,
} from './corrupt.ts';

/** Deps over fixed answers; records what the checker logged and whether it raised CORRUPT. */
function deps(local: HashAt[], peers: PeerHash[], leader = true) {
  const logged: string[] = [];
  const raised: number[] = [];
  const asked: number[] = [];
  const log = pino(
    { level: 'info' },
    { write: (s: string) => void logged.push(JSON.parse(s).msg as string) },
  );
  let i = 0;
  const d: CorruptCheckDeps = {
    memberId: 0xabcn,
    localHash: () => Promise.resolve(local[Math.min(i++, local.length - 1)]!),
    peerHashes: (rev) => {
      asked.push(rev);
      return Promise.resolve(peers);
    },
    linearizableBarrier: () => Promise.resolve(),
    raiseCorrupt: () => {
      raised.push(1);
      return Promise.resolve();
    },
    isLeader: () => leader,
    log,
  };
  return { d, logged, raised, asked };
}

const at = (hash: number, revision = 10, compactRevision = -1): HashAt => ({
  hash,
  revision,
  compactRevision,
});
const peer = (id: bigint, resp?: HashAt, err?: string): PeerHash => ({
  memberId: id,
  endpoints: [`http://127.0.0.1:${id}`],
  ...(resp ? { resp } : {}),
  ...(err ? { err } : {}),
});

test('initial check passes when every peer at our compact revision has our hash', async () => {
  const { d, logged, asked } = deps([at(7)], [peer(2n, at(7)), peer(3n, at(7))]);
  await checkInitialHashKV(d, 1000);
  assert.deepEqual(asked, [10]);
  assert.ok(logged.includes('initial corruption checking passed; no corruption'));
});

test('initial check refuses to start on a different hash at the same compact revision', async () => {
  const { d, logged } = deps([at(7, 10, 4)], [peer(2n, at(7, 10, 4)), peer(3n, at(8, 10, 4))]);
  await assert.rejects(checkInitialHashKV(d, 1000), (e: Error) => {
    assert.ok(e instanceof DataInconsistencyError);
    assert.equal(e.message, 'abc found data inconsistency with peers');
    return true;
  });
  assert.ok(logged.includes('found different hash values from remote peer'));
});

test('initial check only warns about another compact revision, a slow peer and a compacted one', async () => {
  const { d, logged } = deps(
    [at(7, 10, 4)],
    [
      peer(2n, at(9, 10, 6)),
      peer(3n, undefined, 'future'),
      peer(4n, undefined, 'compacted'),
      peer(5n, undefined, 'refused'),
    ],
  );
  await checkInitialHashKV(d, 1000);
  assert.ok(logged.includes('found different compact revision values from remote peer'));
  assert.ok(logged.includes('cannot fetch hash from slow remote peer'));
  assert.ok(logged.includes('cannot fetch hash from remote peer; local member is behind'));
});

test('periodic check raises CORRUPT once for a follower with another hash at the same compact revision', async () => {
  const { d, raised, logged } = deps([at(7), at(7)], [peer(2n, at(8)), peer(3n, at(9))]);
  assert.equal(await checkHashKV(d), true);
  assert.equal(raised.length, 1);
  assert.ok(logged.includes('same compact revision then hashes must match'));
  assert.ok(logged.includes('finished peer corruption check'));
});

test('periodic check raises CORRUPT for a follower ahead of the leader in revision or compaction', async () => {
  const ahead = deps([at(7, 10, 2), at(7, 10, 2)], [peer(2n, at(1, 11, 2))]);
  assert.equal(await checkHashKV(ahead.d), true);
  assert.ok(ahead.logged.includes("revision from follower must be less than or equal to leader's"));
  const compacted = deps([at(7, 10, 2), at(7, 10, 2)], [peer(2n, at(1, 10, 5))]);
  assert.equal(await checkHashKV(compacted.d), true);
  assert.ok(
    compacted.logged.includes("compact revision from follower must be less than or equal to leader's"),
  );
});

test("periodic check raises CORRUPT when the leader's own hash changes at an unchanged revision", async () => {
  const { d, logged } = deps([at(7), at(8)], [peer(2n, at(7))]);
  assert.equal(await checkHashKV(d), true);
  assert.ok(logged.includes('found hash mismatch'));
});

test('periodic check is quiet when followers agree or lag behind', async () => {
  const { d, raised } = deps([at(7, 10, 2), at(7, 12, 2)], [peer(2n, at(7, 10, 2)), peer(3n, at(5, 10, 1))]);
  assert.equal(await checkHashKV(d), false);
  assert.equal(raised.length, 0);
});

test('the monitor checks only while this member leads, every interval, rounds never overlapping', async () => {
  const timers: { ms: number; fn: () => void }[] = [];
  const clock = { after: (ms: number, fn: () => void) => (timers.push({ ms, fn }), () => {}) };
  let leader = false;
  const { d, asked } = deps([at(7)], [peer(2n, at(7))]);
  d.isLeader = () => leader;
  const stop = monitorKVHash(d, 5000, clock);
  assert.equal(timers.length, 1);
  assert.equal(timers[0]!.ms, 5000);
  timers.shift()!.fn(); // a follower: no round, next wait scheduled
  assert.equal(asked.length, 0);
  assert.equal(timers.length, 1);
  leader = true;
  timers.shift()!.fn();
  assert.equal(timers.length, 0, 'the next wait starts only when the round ends');
  await new Promise((r) => setImmediate(r));
  assert.equal(asked.length, 1);
  assert.equal(timers.length, 1);
  stop();
  timers.shift()!.fn();
  assert.equal(asked.length, 1, 'stopped: no more rounds');
});
