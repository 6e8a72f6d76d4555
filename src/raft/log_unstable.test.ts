import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Unstable } from './log_unstable.ts';
import { EntryType, emptyConfState, type Entry, type Snapshot } from './raftpb.ts';

function ent(index: number, term: number): Entry {
  return { index, term, type: EntryType.EntryNormal, data: new Uint8Array(0) };
}
function snap(index: number, term: number): Snapshot {
  return { data: new Uint8Array(0), metadata: { index, term, confState: emptyConfState() } };
}
function idx(es: Entry[]): number[] {
  return es.map((e) => e.index);
}

test('first/last/term come from entries or the snapshot', () => {
  const u = new Unstable(5);
  assert.equal(u.maybeLastIndex(), undefined);
  u.truncateAndAppend([ent(5, 1)]);
  assert.equal(u.maybeLastIndex(), 5);
  assert.equal(u.maybeTerm(5), 1);
  assert.equal(u.maybeTerm(4), undefined);
  u.restore(snap(7, 2));
  assert.equal(u.maybeFirstIndex(), 8);
  assert.equal(u.maybeLastIndex(), 7);
  assert.equal(u.maybeTerm(7), 2);
});

test('in-progress entries are not returned again; new ones are', () => {
  const u = new Unstable(5);
  u.truncateAndAppend([ent(5, 1), ent(6, 1)]);
  assert.deepEqual(idx(u.nextEntries()), [5, 6]);
  u.acceptInProgress();
  assert.deepEqual(u.nextEntries(), []);
  u.truncateAndAppend([ent(7, 1)]);
  assert.deepEqual(idx(u.nextEntries()), [7]);
});

test('truncating below in-progress entries makes the replacement unsent', () => {
  const u = new Unstable(5);
  u.truncateAndAppend([ent(5, 1), ent(6, 1), ent(7, 1)]);
  u.acceptInProgress();
  u.truncateAndAppend([ent(6, 2)]);
  assert.deepEqual(idx(u.entries), [5, 6]);
  assert.equal(u.entries[1]!.term, 2);
  assert.deepEqual(idx(u.nextEntries()), [6]);
  u.truncateAndAppend([ent(4, 3)]);
  assert.equal(u.offset, 4);
  assert.deepEqual(idx(u.nextEntries()), [4]);
});

test('stableTo ignores a term mismatch and trims on a match', () => {
  const u = new Unstable(5);
  u.truncateAndAppend([ent(5, 1), ent(6, 1)]);
  u.acceptInProgress();
  u.stableTo(6, 2);
  assert.equal(u.entries.length, 2);
  u.stableTo(5, 1);
  assert.equal(u.offset, 6);
  assert.deepEqual(idx(u.entries), [6]);
});

test('snapshot in progress is hidden from nextSnapshot and cleared by stableSnapTo', () => {
  const u = new Unstable(1);
  u.restore(snap(10, 3));
  assert.ok(u.nextSnapshot());
  u.acceptInProgress();
  assert.equal(u.nextSnapshot(), undefined);
  u.stableSnapTo(9);
  assert.ok(u.snapshot);
  u.stableSnapTo(10);
  assert.equal(u.snapshot, undefined);
});
