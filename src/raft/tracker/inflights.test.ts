import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Inflights } from './inflights.ts';

test('fills up to size messages, then add throws', () => {
  const f = new Inflights(3, 0);
  f.add(1, 10);
  f.add(2, 10);
  assert.equal(f.full(), false);
  f.add(3, 10);
  assert.equal(f.full(), true);
  assert.equal(f.count(), 3);
  assert.throws(() => f.add(4, 1), /full/);
});

test('byte limit makes the window full before the count limit', () => {
  const f = new Inflights(10, 100);
  f.add(1, 60);
  assert.equal(f.full(), false);
  f.add(2, 40);
  assert.equal(f.full(), true);
  assert.equal(f.bytes(), 100);
  f.freeLE(1);
  assert.equal(f.full(), false);
  assert.equal(f.bytes(), 40);
  assert.equal(f.count(), 1);
});

test('a single message larger than maxBytes is admitted when the window is empty', () => {
  const f = new Inflights(10, 100);
  f.add(1, 500);
  assert.equal(f.full(), true);
  assert.equal(f.count(), 1);
});

test('freeLE frees exactly the prefix at or below the index; stale frees do nothing', () => {
  const f = new Inflights(10, 0);
  for (let i = 5; i < 10; i++) f.add(i, 1);
  f.freeLE(4);
  assert.equal(f.count(), 5);
  f.freeLE(6);
  assert.equal(f.count(), 3);
  f.freeLE(6);
  assert.equal(f.count(), 3);
  f.freeLE(100);
  assert.equal(f.count(), 0);
  assert.equal(f.bytes(), 0);
  f.freeLE(200);
  assert.equal(f.count(), 0);
});

test('wrap-around: the ring reuses freed slots and frees in order across the seam', () => {
  const f = new Inflights(5, 0);
  for (let i = 1; i <= 5; i++) f.add(i, i);
  f.freeLE(3); // slots 0..2 free, start at 3
  assert.equal(f.count(), 2);
  f.add(6, 6); // wraps to slot 0
  f.add(7, 7);
  f.add(8, 8);
  assert.equal(f.full(), true);
  f.freeLE(6); // frees 4, 5 (end of buffer) and 6 (slot 0)
  assert.equal(f.count(), 2);
  assert.equal(f.bytes(), 15);
  f.freeLE(8);
  assert.equal(f.count(), 0);
  assert.equal(f.bytes(), 0);
  // After emptying, it starts from slot 0 again and can hold a full window.
  for (let i = 9; i <= 13; i++) f.add(i, 1);
  assert.equal(f.full(), true);
});

test('many cycles through a small window keep count and bytes exact', () => {
  const f = new Inflights(4, 0);
  let next = 1;
  let acked = 0;
  for (let round = 0; round < 50; round++) {
    while (!f.full()) f.add(next++, 2);
    acked += 1 + (round % 3);
    f.freeLE(acked);
    const live = next - 1 - acked;
    assert.equal(f.count(), Math.max(live, 0));
    assert.equal(f.bytes(), Math.max(live, 0) * 2);
    if (live < 0) acked = next - 1;
  }
});

test('reset empties; clone is independent', () => {
  const f = new Inflights(3, 0);
  f.add(1, 1);
  f.add(2, 1);
  const c = f.clone();
  f.reset();
  assert.equal(f.count(), 0);
  assert.equal(f.bytes(), 0);
  assert.equal(c.count(), 2);
  c.freeLE(1);
  assert.equal(c.count(), 1);
  assert.equal(f.count(), 0);
});
