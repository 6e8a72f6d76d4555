import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RaftLog } from './log.ts';
import { MemoryStorage } from './storage.ts';
import { ErrCompacted, ErrUnavailable } from './errors.ts';
import { EntryType, emptyConfState, type Entry } from './raftpb.ts';
import { NO_LIMIT } from './util.ts';

function ent(index: number, term: number, data = ''): Entry {
  return { index, term, type: EntryType.EntryNormal, data: new TextEncoder().encode(data) };
}
function terms(es: Entry[]): number[] {
  return es.map((e) => e.term);
}
function logWith(...ts: number[]): RaftLog {
  const l = new RaftLog(new MemoryStorage());
  l.append(ts.map((t, i) => ent(i + 1, t)));
  return l;
}

test('maybeAppend: consistency check rejects a missing or mismatched previous entry', () => {
  const l = logWith(1, 2, 3);
  assert.equal(l.maybeAppend(3, 2, 3, [ent(4, 4)]), undefined);
  assert.equal(l.maybeAppend(4, 3, 3, [ent(5, 4)]), undefined);
  assert.equal(l.maybeAppend(3, 3, 3, [ent(4, 4)]), 4);
  assert.equal(l.committed, 3);
});

test('maybeAppend truncates a conflicting suffix and commits to min(commit, last new)', () => {
  const l = logWith(1, 2, 3);
  assert.equal(l.maybeAppend(1, 1, 10, [ent(2, 4)]), 2);
  assert.deepEqual(terms(l.allEntries()), [1, 4]);
  assert.equal(l.committed, 2);
});

test('maybeAppend of entries we already have keeps the longer log', () => {
  const l = logWith(1, 2, 3);
  assert.equal(l.maybeAppend(0, 0, 0, [ent(1, 1), ent(2, 2)]), 2);
  assert.equal(l.lastIndex(), 3);
});

test('a conflict with a committed entry is a bug', () => {
  const l = logWith(1, 2, 3);
  l.commitTo(2);
  assert.throws(() => l.maybeAppend(1, 1, 2, [ent(2, 5)]), /conflict with committed/);
});

test('findConflictByTerm returns the last index with a term <= the given one', () => {
  const l = logWith(1, 3, 3, 3, 5, 5);
  assert.deepEqual(l.findConflictByTerm(6, 4), { index: 4, term: 3 });
  assert.deepEqual(l.findConflictByTerm(6, 2), { index: 1, term: 1 });
  assert.deepEqual(l.findConflictByTerm(6, 0), { index: 0, term: 0 });
  assert.deepEqual(l.findConflictByTerm(6, 5), { index: 6, term: 5 });
});

test('isUpToDate compares last term, then last index', () => {
  const l = logWith(1, 2, 3);
  assert.ok(l.isUpToDate(1, 4));
  assert.ok(l.isUpToDate(3, 3));
  assert.ok(!l.isUpToDate(2, 3));
  assert.ok(!l.isUpToDate(9, 2));
});

test('maybeCommit only commits an entry of the given term', () => {
  const l = logWith(1, 1, 2);
  assert.ok(!l.maybeCommit(2, 2));
  assert.ok(l.maybeCommit(3, 2));
  assert.equal(l.committed, 3);
  assert.throws(() => l.commitTo(5), /out of range/);
});

test('entries span storage and unstable, and respect size limits', () => {
  const s = new MemoryStorage();
  s.append([ent(1, 1, 'aaaa'), ent(2, 1, 'bbbb')]);
  const l = new RaftLog(s);
  l.append([ent(3, 2, 'cccc'), ent(4, 2, 'dddd')]);
  assert.deepEqual(
    l.entries(1, NO_LIMIT).map((e) => e.index),
    [1, 2, 3, 4],
  );
  assert.deepEqual(
    l.entries(2, 0).map((e) => e.index),
    [2],
  );
  assert.deepEqual(
    l.entries(2, 40).map((e) => e.index),
    [2, 3],
  );
  assert.deepEqual(l.entries(5, NO_LIMIT), []);
});

test('term errors: compacted and unavailable', () => {
  const s = new MemoryStorage();
  s.append([ent(1, 1), ent(2, 1), ent(3, 2)]);
  s.compact(2);
  const l = new RaftLog(s);
  assert.equal(l.firstIndex(), 3);
  assert.equal(l.term(2), 1);
  assert.throws(() => l.term(1), ErrCompacted);
  assert.throws(() => l.term(4), ErrUnavailable);
  assert.throws(() => l.entries(2, NO_LIMIT), ErrCompacted);
});

test('committed entries: unstable ones only when allowed; applying cursor hides handed-out ones', () => {
  const l = logWith(1, 1, 1);
  l.commitTo(2);
  assert.deepEqual(l.nextCommittedEnts(false), []);
  assert.deepEqual(
    l.nextCommittedEnts(true).map((e) => e.index),
    [1, 2],
  );
  l.acceptApplying(2, 0, true);
  assert.ok(!l.hasNextCommittedEnts(true));
  l.commitTo(3);
  assert.deepEqual(
    l.nextCommittedEnts(true).map((e) => e.index),
    [3],
  );
  l.appliedTo(2, 0);
  assert.equal(l.applied, 2);
});

test('restore to a snapshot resets the log and commit', () => {
  const l = logWith(1, 1);
  l.restore({ data: new Uint8Array(), metadata: { index: 10, term: 4, confState: emptyConfState() } });
  assert.equal(l.committed, 10);
  assert.equal(l.lastIndex(), 10);
  assert.equal(l.firstIndex(), 11);
  assert.equal(l.term(10), 4);
  assert.ok(l.hasNextOrInProgressSnapshot());
  assert.deepEqual(l.nextCommittedEnts(true), []);
});

test('stableTo moves entries out of unstable so reads come from storage', () => {
  const s = new MemoryStorage();
  const l = new RaftLog(s);
  l.append([ent(1, 1), ent(2, 1)]);
  const rd = l.nextUnstableEnts();
  l.acceptUnstable();
  s.append(rd);
  l.stableTo(2, 1);
  assert.equal(l.unstable.entries.length, 0);
  assert.equal(l.unstable.offset, 3);
  assert.equal(l.lastIndex(), 2);
  assert.equal(l.term(2), 1);
});
