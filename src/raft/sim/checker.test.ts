// The checker must catch broken histories on its own, independent of raft.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { Checker } from './checker.ts';
import { EntryType, type Entry } from '../raftpb.ts';

const ent = (term: number, index: number, data = ''): Entry => ({
  term,
  index,
  type: EntryType.EntryNormal,
  data: new TextEncoder().encode(data),
});

function boot(ids: bigint[]): Checker {
  const c = new Checker(1, 1);
  for (const id of ids) {
    c.resetLog(id, 1, 1);
    c.restarted(id, { term: 1, vote: 0n, commit: 1 }, 1);
  }
  return c;
}

describe('checker', () => {
  test('identical logs pass', () => {
    const c = boot([1n, 2n]);
    c.appendLog(1n, [ent(2, 2, 'a'), ent(2, 3, 'b')]);
    c.appendLog(2n, [ent(2, 2, 'a'), ent(2, 3, 'b')]);
    c.hardState(1n, { term: 2, vote: 1n, commit: 3 });
    c.hardState(2n, { term: 2, vote: 1n, commit: 3 });
    assert.deepEqual(c.violations, []);
  });

  test('log matching: same index and term at the tip but a different entry below', () => {
    const c = boot([1n, 2n]);
    c.appendLog(1n, [ent(2, 2, 'a'), ent(2, 3, 'b')]);
    c.appendLog(2n, [ent(2, 2, 'x'), ent(2, 3, 'b')]);
    assert.match(c.violations[0] ?? '', /log matching/);
  });

  test('two conflicting committed logs', () => {
    const c = boot([1n, 2n]);
    c.appendLog(1n, [ent(2, 2, 'a')]);
    c.appendLog(2n, [ent(3, 2, 'b')]);
    c.hardState(1n, { term: 2, vote: 1n, commit: 2 });
    assert.deepEqual(c.violations, []);
    c.hardState(2n, { term: 3, vote: 2n, commit: 2 });
    assert.match(c.violations[0] ?? '', /committed logs differ/);
  });

  test('a crash before the sync of a higher commit: the old entries on disk above the durable commit are fine', () => {
    // Seen in the simulator (seed 41782): node 2 holds 2/11 on disk, learns 3/11 and commit 11 from the
    // leader, crashes before syncing either, and restarts with 2/11 and commit 1 again.
    const c = boot([1n, 2n]);
    c.appendLog(2n, [ent(2, 2, 'old')]);
    c.synced(2n);
    c.appendLog(1n, [ent(3, 2, 'new')]);
    c.hardState(1n, { term: 3, vote: 1n, commit: 2 });
    c.appendLog(2n, [ent(3, 2, 'new')]);
    c.hardState(2n, { term: 3, vote: 1n, commit: 2 }); // never synced
    c.restarted(2n, { term: 1, vote: 0n, commit: 1 }, 1);
    c.resetLog(2n, 1, 1);
    c.appendLog(2n, [ent(2, 2, 'old')]);
    assert.deepEqual(c.violations, []);
    // ...but a restart that comes back below a commit that did reach disk is caught.
    c.synced(1n);
    c.restarted(1n, { term: 3, vote: 1n, commit: 1 }, 1);
    assert.match(c.violations[0] ?? '', /below its durable commit/);
  });

  test('a node overwriting a committed entry', () => {
    const c = boot([1n, 2n, 3n]);
    c.appendLog(1n, [ent(2, 2, 'a')]);
    c.hardState(1n, { term: 2, vote: 1n, commit: 2 });
    c.appendLog(2n, [ent(2, 2, 'a')]);
    c.hardState(2n, { term: 2, vote: 1n, commit: 2 });
    c.appendLog(3n, [ent(3, 2, 'b')]); // a stale node may hold something else there
    assert.deepEqual(c.violations, []);
    c.appendLog(2n, [ent(3, 2, 'b')]);
    assert.match(c.violations[0] ?? '', /over a different committed entry/);
  });

  test('election safety: two leaders in one term', () => {
    const c = boot([1n, 2n, 3n]);
    c.becameLeader(1n, 2);
    c.becameLeader(1n, 2);
    assert.deepEqual(c.violations, []);
    c.becameLeader(2n, 2);
    assert.match(c.violations[0] ?? '', /election safety/);
  });

  test('leader completeness: a leader missing a committed entry', () => {
    const c = boot([1n, 2n, 3n]);
    c.appendLog(1n, [ent(2, 2, 'a'), ent(2, 3, 'b')]);
    c.appendLog(2n, [ent(2, 2, 'a'), ent(2, 3, 'b')]);
    c.hardState(1n, { term: 2, vote: 1n, commit: 3 });
    c.appendLog(3n, [ent(2, 2, 'a')]);
    c.becameLeader(3n, 3);
    assert.match(c.violations[0] ?? '', /leader completeness/);
  });

  test('leader completeness: same length, different committed entry', () => {
    const c = boot([1n, 3n]);
    c.appendLog(3n, [ent(3, 2, 'z')]);
    c.appendLog(1n, [ent(2, 2, 'a')]);
    c.hardState(1n, { term: 2, vote: 1n, commit: 2 });
    c.becameLeader(3n, 4);
    assert.match(c.violations[0] ?? '', /leader completeness/);
  });

  test('state machine safety: different entries applied at one index', () => {
    const c = boot([1n, 2n]);
    c.appendLog(1n, [ent(2, 2, 'a')]);
    c.hardState(1n, { term: 2, vote: 0n, commit: 2 });
    c.applied(1n, ent(2, 2, 'a'));
    c.appliedRecord(2n, 2, 2, 12345);
    assert.match(c.violations[0] ?? '', /state machine safety/);
  });

  test('applying out of order or beyond commit', () => {
    const c = boot([1n]);
    c.appendLog(1n, [ent(2, 2, 'a'), ent(2, 3, 'b')]);
    c.hardState(1n, { term: 2, vote: 0n, commit: 2 });
    c.applied(1n, ent(2, 3, 'b'));
    assert.match(c.violations[0] ?? '', /not contiguous/);
    const d = boot([1n]);
    d.appendLog(1n, [ent(2, 2, 'a')]);
    d.applied(1n, ent(2, 2, 'a'));
    assert.match(d.violations[0] ?? '', /above its commit/);
  });

  test('commit going back, live and across a restart', () => {
    const c = boot([1n]);
    c.appendLog(1n, [ent(2, 2, 'a'), ent(2, 3, 'b')]);
    c.hardState(1n, { term: 2, vote: 0n, commit: 3 });
    c.hardState(1n, { term: 2, vote: 0n, commit: 2 });
    assert.match(c.violations[0] ?? '', /commit went back/);
    const d = boot([1n]);
    d.appendLog(1n, [ent(2, 2, 'a'), ent(2, 3, 'b')]);
    d.hardState(1n, { term: 2, vote: 0n, commit: 3 });
    d.synced(1n);
    d.restarted(1n, { term: 2, vote: 0n, commit: 2 }, 1);
    assert.match(d.violations[0] ?? '', /below its durable commit/);
  });

  test('double vote and vote change within a term', () => {
    const c = boot([1n, 2n, 3n]);
    c.voteGranted(3n, 1n, 5);
    c.voteGranted(3n, 1n, 5);
    assert.deepEqual(c.violations, []);
    c.voteGranted(3n, 2n, 5);
    assert.match(c.violations[0] ?? '', /voted for both/);
    const d = boot([1n]);
    d.hardState(1n, { term: 5, vote: 2n, commit: 1 });
    d.hardState(1n, { term: 5, vote: 3n, commit: 1 });
    assert.match(d.violations[0] ?? '', /vote changed/);
  });

  test('log terms must not decrease and appends must not leave gaps', () => {
    const c = boot([1n]);
    c.appendLog(1n, [ent(3, 2, 'a'), ent(2, 3, 'b')]);
    assert.match(c.violations[0] ?? '', /term goes down/);
    const d = boot([1n]);
    d.appendLog(1n, [ent(2, 4, 'a')]);
    assert.match(d.violations[0] ?? '', /gap/);
  });

  test('a snapshot must name an entry some log held; compaction keeps checking', () => {
    const c = boot([1n, 2n]);
    c.resetLog(2n, 9, 9);
    assert.match(c.violations[0] ?? '', /no log ever held/);
    const d = boot([1n, 2n]);
    d.appendLog(1n, [ent(2, 2, 'a'), ent(2, 3, 'b'), ent(2, 4, 'c')]);
    d.compactLog(1n, 3);
    d.resetLog(2n, 3, 2);
    d.appendLog(2n, [ent(2, 4, 'c')]);
    assert.deepEqual(d.violations, []);
    d.appendLog(2n, [ent(2, 4, 'other')]);
    assert.match(d.violations[0] ?? '', /log matching/);
  });

  test('a truncated suffix may be replaced by entries of a newer term', () => {
    const c = boot([1n, 2n]);
    c.appendLog(1n, [ent(2, 2, 'a'), ent(2, 3, 'b')]);
    c.appendLog(1n, [ent(3, 3, 'c'), ent(3, 4, 'd')]);
    c.appendLog(2n, [ent(2, 2, 'a'), ent(3, 3, 'c')]);
    c.hardState(2n, { term: 3, vote: 0n, commit: 3 });
    c.hardState(1n, { term: 3, vote: 0n, commit: 4 });
    assert.deepEqual(c.violations, []);
    assert.equal(c.globalCommit(), 4);
  });
});
