import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EntryType, ErrCompacted, ErrUnavailable, NO_LIMIT, type Entry } from '../raft/index.ts';
import { LogStorage } from './raft_storage.ts';

const ent = (index: number, term: number): Entry => ({
  index,
  term,
  type: EntryType.EntryNormal,
  data: Uint8Array.of(index),
});

test('appends at the end, overwrites a conflicting suffix, skips compacted entries', () => {
  const s = new LogStorage();
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

test('a snapshot replaces the log; entries after it are unavailable until appended', () => {
  const s = new LogStorage();
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
