import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStorage } from './storage.ts';
import { ErrCompacted, ErrSnapOutOfDate, ErrUnavailable } from './errors.ts';
import { EntryType, entrySize, type Entry } from './raftpb.ts';
import { NO_LIMIT } from './util.ts';

function ent(index: number, term: number): Entry {
  return { index, term, type: EntryType.EntryNormal, data: new Uint8Array(0) };
}

/** A storage whose placeholder is (3,3) with entries 4/4, 5/5. */
function compacted(): MemoryStorage {
  const s = new MemoryStorage();
  s.append([ent(1, 1), ent(2, 2), ent(3, 3), ent(4, 4), ent(5, 5)]);
  s.compact(3);
  return s;
}

test('term: compacted below the placeholder, unavailable past the end', () => {
  const s = compacted();
  assert.throws(() => s.term(2), ErrCompacted);
  assert.equal(s.term(3), 3);
  assert.equal(s.term(5), 5);
  assert.throws(() => s.term(6), ErrUnavailable);
});

test('entries: compacted, size limit keeps at least one entry', () => {
  const s = compacted();
  assert.throws(() => s.entries(3, 5, NO_LIMIT), ErrCompacted);
  assert.deepEqual(
    s.entries(4, 6, NO_LIMIT).map((e) => e.index),
    [4, 5],
  );
  assert.deepEqual(
    s.entries(4, 6, 0).map((e) => e.index),
    [4],
  );
  assert.deepEqual(
    s.entries(4, 6, entrySize(ent(4, 4)) * 2).map((e) => e.index),
    [4, 5],
  );
  assert.equal(s.firstIndex(), 4);
  assert.equal(s.lastIndex(), 5);
});

test('append truncates a conflicting suffix and skips compacted entries', () => {
  const s = compacted();
  s.append([ent(2, 2), ent(3, 3), ent(4, 6), ent(5, 6), ent(6, 6)]);
  assert.deepEqual(
    s.entries(4, 7, NO_LIMIT).map((e) => [e.index, e.term]),
    [
      [4, 6],
      [5, 6],
      [6, 6],
    ],
  );
  assert.throws(() => s.append([ent(9, 6)]), /missing log entry/);
});

test('compact and createSnapshot refuse stale indexes', () => {
  const s = compacted();
  assert.throws(() => s.compact(3), ErrCompacted);
  const snap = s.createSnapshot(
    4,
    { voters: [1n], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false },
    new Uint8Array([7]),
  );
  assert.equal(snap.metadata.term, 4);
  assert.deepEqual(s.initialState().confState.voters, [1n]);
  assert.throws(() => s.createSnapshot(4, undefined, new Uint8Array()), ErrSnapOutOfDate);
});

test('applySnapshot replaces the log; an older one is refused', () => {
  const s = compacted();
  s.applySnapshot({
    data: new Uint8Array(),
    metadata: { index: 10, term: 7, confState: s.initialState().confState },
  });
  assert.equal(s.firstIndex(), 11);
  assert.equal(s.lastIndex(), 10);
  assert.equal(s.term(10), 7);
  assert.throws(() => s.entries(11, 11, NO_LIMIT), ErrUnavailable);
  assert.throws(
    () =>
      s.applySnapshot({
        data: new Uint8Array(),
        metadata: { index: 9, term: 7, confState: s.initialState().confState },
      }),
    ErrSnapOutOfDate,
  );
});

test('appending in place: at the end, over a conflicting suffix, after compaction and a snapshot', () => {
  const s = new MemoryStorage();
  s.append([ent(1, 1), ent(2, 1), ent(3, 1)]);
  s.append([ent(4, 1)]);
  assert.equal(s.lastIndex(), 4);
  s.append([ent(3, 2), ent(4, 2), ent(5, 2)]);
  assert.deepEqual(
    s.entries(1, 6, NO_LIMIT).map((e) => [e.index, e.term]),
    [
      [1, 1],
      [2, 1],
      [3, 2],
      [4, 2],
      [5, 2],
    ],
  );
  s.createSnapshot(4, undefined, new Uint8Array(0));
  s.compact(3);
  assert.equal(s.firstIndex(), 4);
  assert.equal(s.term(3), 2, 'the compacted-to entry keeps its term as the placeholder');
  assert.throws(() => s.term(2), ErrCompacted);
  assert.throws(() => s.entries(3, 5, NO_LIMIT), ErrCompacted);
  s.append([ent(2, 1), ent(3, 2), ent(4, 2), ent(5, 2), ent(6, 2)]);
  assert.equal(s.lastIndex(), 6);
  assert.throws(() => s.append([ent(9, 2)]), /missing log entry/);
});

test('after a snapshot, entries are unavailable until appended; the conf state comes from the snapshot', () => {
  const s = new MemoryStorage();
  s.append([ent(1, 1), ent(2, 1)]);
  s.applySnapshot({
    data: new Uint8Array(0),
    metadata: {
      index: 10,
      term: 3,
      confState: { voters: [1n], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false },
    },
  });
  assert.equal(s.firstIndex(), 11);
  assert.equal(s.lastIndex(), 10);
  assert.equal(s.term(10), 3);
  assert.throws(() => s.entries(11, 11, NO_LIMIT), ErrUnavailable);
  assert.deepEqual(s.initialState().confState.voters, [1n]);
  s.append([ent(11, 3)]);
  assert.equal(s.entries(11, 12, NO_LIMIT)[0]!.index, 11);
});
