import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KeyIndex } from './key_index.ts';
import { revToBytes, bytesToRev, isTombstone } from './revision.ts';

const r = (main: number, sub = 0) => ({ main, sub });

/** foo: put@2, put@4, tombstone@6, put@8, put@10, tombstone@12, put@14 (etcd's key_index_test layout). */
function sample(): KeyIndex {
  const ki = new KeyIndex('foo');
  ki.put(r(2));
  ki.put(r(4));
  ki.tombstone(r(6));
  ki.put(r(8));
  ki.put(r(10));
  ki.tombstone(r(12));
  ki.put(r(14));
  return ki;
}

test('revision bytes sort in revision order and mark tombstones', () => {
  const a = revToBytes(r(5, 1));
  const b = revToBytes(r(5, 2));
  const c = revToBytes(r(6, 0), true);
  assert.ok(Buffer.compare(a, b) < 0 && Buffer.compare(b, c) < 0);
  assert.deepEqual(bytesToRev(c), r(6, 0));
  assert.equal(isTombstone(c), true);
  assert.equal(isTombstone(a), false);
});

test('get sees the newest revision at or below atRev, and nothing at or after a tombstone', () => {
  const ki = sample();
  assert.equal(ki.get(1), undefined);
  assert.deepEqual(ki.get(2), { modified: r(2), created: r(2), version: 1 });
  assert.deepEqual(ki.get(5), { modified: r(4), created: r(2), version: 2 });
  assert.equal(ki.get(6), undefined);
  assert.equal(ki.get(7), undefined);
  assert.deepEqual(ki.get(9), { modified: r(8), created: r(8), version: 1 });
  assert.deepEqual(ki.get(11), { modified: r(10), created: r(8), version: 2 });
  assert.equal(ki.get(13), undefined);
  assert.deepEqual(ki.get(100), { modified: r(14), created: r(14), version: 1 });
});

test('compact keeps the newest version at or below rev, and the compact revision stays readable', () => {
  const ki = sample();
  const keep = new Set<string>();
  ki.compact(5, keep);
  assert.deepEqual([...keep], ['4_0']);
  assert.deepEqual(ki.get(5), { modified: r(4), created: r(2), version: 2 });
  assert.equal(ki.get(6), undefined);
});

test('compact past a tombstone drops the whole generation', () => {
  const ki = sample();
  const keep = new Set<string>();
  ki.compact(7, keep);
  assert.deepEqual([...keep], []);
  assert.equal(ki.generations.length, 2);
  assert.deepEqual(ki.get(9), { modified: r(8), created: r(8), version: 1 });
});

test('compact at the last tombstone leaves only the live generation; all gone when empty', () => {
  const ki = sample();
  const keep = new Set<string>();
  ki.compact(13, keep);
  assert.equal(ki.generations.length, 1);
  assert.deepEqual(ki.get(14), { modified: r(14), created: r(14), version: 1 });
  const dead = new KeyIndex('x');
  dead.put(r(2));
  dead.tombstone(r(3));
  dead.compact(3, new Set());
  assert.equal(dead.isEmpty(), true);
});

test('a tombstone on a key with no live generation is a bug', () => {
  const ki = new KeyIndex('k');
  assert.throws(() => ki.tombstone(r(3)));
});
