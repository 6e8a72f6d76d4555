// The robustness suite's checkers on hand-written histories (no server): linearizable and not, with
// requests that failed, txns, the search bound, and the watch guarantees.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Operation, Request, Response, WatcherLog } from '../robustness/history.ts';
import { checkKey, checkLinearizable, settleUnknown } from '../robustness/checker/linearizable.ts';
import { checkWatchers } from '../robustness/checker/watch.ts';

let ids = 0;
function op(call: number, ret: number | null, req: Request, resp?: Response): Operation {
  return { id: ids++, client: 0, req, call, ret: ret ?? Infinity, resp, error: resp ? undefined : 'timeout' };
}
const put = (key: string, value: string) => ({ kind: 'put' as const, key, value });
const get = (key: string) => ({ kind: 'get' as const, key });
const del = (key: string) => ({ kind: 'delete' as const, key });
const putOk = (rev: number) => ({ kind: 'put' as const, rev });
const got = (value: string | null, modRev: number, rev: number) => ({
  kind: 'get' as const,
  kv: value === null ? null : { value, modRev },
  rev,
});

test('a sequential history of puts, gets and a delete is linearizable', () => {
  const h = [
    op(0, 1, put('a', 'v1'), putOk(2)),
    op(2, 3, get('a'), got('v1', 2, 2)),
    op(4, 5, del('a'), { kind: 'delete', deleted: 1, rev: 3 }),
    op(6, 7, get('a'), got(null, 0, 3)),
    op(8, 9, del('a'), { kind: 'delete', deleted: 0, rev: 3 }),
  ];
  assert.equal(checkKey(h).result, 'ok');
});

test('a read of an overwritten value after the overwrite returned is a stale read', () => {
  const h = [
    op(0, 1, put('a', 'v1'), putOk(2)),
    op(2, 3, put('a', 'v2'), putOk(3)),
    op(4, 5, get('a'), got('v1', 2, 2)),
  ];
  const r = checkLinearizable(h);
  assert.equal(r.violations.length, 1);
  assert.match(r.violations[0]!.what, /key a: no linearization/);
  assert.ok(r.violations[0]!.excerpt.some((l) => l.includes('get(a)') && l.includes('cannot be placed')));
});

test('a read concurrent with a put may see the old or the new value', () => {
  for (const seen of [got('v1', 2, 2), got('v2', 3, 3)]) {
    const h = [
      op(0, 1, put('a', 'v1'), putOk(2)),
      op(2, 6, put('a', 'v2'), putOk(3)),
      op(3, 5, get('a'), seen),
    ];
    assert.equal(checkKey(h).result, 'ok');
  }
});

test('writes are placed in revision order: a read cannot see the lower revision after the higher', () => {
  // Both puts are concurrent with each other; the reads after both must see the one of rev 3.
  const h = [
    op(0, 5, put('a', 'x'), putOk(3)),
    op(0, 5, put('a', 'y'), putOk(2)),
    op(6, 7, get('a'), got('y', 2, 3)),
  ];
  assert.equal(checkKey(h).result, 'illegal');
});

test('a read header revision below one already seen on the key is refused', () => {
  const h = [op(0, 1, put('a', 'v1'), putOk(5)), op(2, 3, get('a'), got('v1', 5, 4))];
  assert.equal(checkKey(h).result, 'illegal');
});

test('a failed put may have happened: a later read of its value is linearizable, of a value nobody wrote is not', () => {
  const ok = [
    op(0, 1, put('a', 'v1'), putOk(2)),
    op(2, null, put('a', 'v2')),
    op(10, 11, get('a'), got('v2', 3, 3)),
  ];
  assert.equal(checkKey(ok).result, 'ok');
  const never = [op(0, 1, put('a', 'v1'), putOk(2)), op(10, 11, get('a'), got('v2', 3, 3))];
  assert.equal(checkKey(never).result, 'illegal');
  // ... and it may not have happened: reads keep seeing the old value.
  const not = [
    op(0, 1, put('a', 'v1'), putOk(2)),
    op(2, null, put('a', 'v2')),
    op(10, 11, get('a'), got('v1', 2, 3)),
  ];
  assert.equal(checkKey(not).result, 'ok');
  // A failed put cannot take effect before it was sent.
  const early = [op(0, 1, get('a'), got('v2', 3, 3)), op(2, null, put('a', 'v2'))];
  assert.equal(checkKey(early).result, 'illegal');
});

test('txn: the compare decides the branch; a success its compare could not allow is refused', () => {
  const txn = (cmpValue: string, value: string) => ({
    kind: 'txn' as const,
    key: 'a',
    cmp: { target: 'value' as const, value: cmpValue },
    value,
  });
  const good = [
    op(0, 1, put('a', 'v1'), putOk(2)),
    op(2, 3, txn('v1', 'v2'), { kind: 'txn', succeeded: true, rev: 3, kv: null }),
    op(4, 5, txn('v1', 'v3'), { kind: 'txn', succeeded: false, rev: 3, kv: { value: 'v2', modRev: 3 } }),
  ];
  assert.equal(checkKey(good).result, 'ok');
  const bad = [
    op(0, 1, put('a', 'v1'), putOk(2)),
    op(2, 3, txn('v0', 'v2'), { kind: 'txn', succeeded: true, rev: 3, kv: null }),
  ];
  assert.equal(checkKey(bad).result, 'illegal');
  const modCreate = {
    kind: 'txn' as const,
    key: 'a',
    cmp: { target: 'mod' as const, rev: 0 },
    value: 'c1',
  };
  // mod == 0 means absent: creating twice cannot both succeed.
  const twice = [
    op(0, 1, modCreate, { kind: 'txn', succeeded: true, rev: 2, kv: null }),
    op(2, 3, { ...modCreate, value: 'c2' }, { kind: 'txn', succeeded: true, rev: 3, kv: null }),
  ];
  assert.equal(checkKey(twice).result, 'illegal');
});

test('the search is bounded: past the step limit the answer is unknown', () => {
  const h: Operation[] = [];
  for (let i = 0; i < 12; i++) h.push(op(0, null, put('a', `u${i}`)));
  h.push(op(1, 2, get('a'), got('zz', 9, 9)));
  assert.equal(checkKey(h, 50).result, 'unknown');
  assert.deepEqual(checkLinearizable(h, 50).unknownKeys, ['a']);
});

test('histories split by key: a violation on one key names that key only', () => {
  const h = [
    op(0, 1, put('a', 'v1'), putOk(2)),
    op(0, 1, put('b', 'w1'), putOk(3)),
    op(2, 3, put('b', 'w2'), putOk(4)),
    op(4, 5, get('b'), got('w1', 3, 3)),
    op(4, 5, get('a'), got('v1', 2, 4)),
  ];
  const r = checkLinearizable(h);
  assert.deepEqual(
    r.violations.map((v) => v.what.split(':')[0]),
    ['key b'],
  );
});

const W = (name: string, events: WatcherLog['events'], upTo: number): WatcherLog => ({
  name,
  startRev: 1,
  upTo,
  events,
});

test('watch: a clean log passes; a gap, a duplicate, a reordering, a wrong value and a phantom are each caught', () => {
  const h = [
    op(0, 1, put('a', 'v1'), putOk(2)),
    op(2, 3, put('b', 'w1'), putOk(3)),
    op(4, 5, del('a'), { kind: 'delete', deleted: 1, rev: 4 }),
  ];
  const good = [
    { rev: 2, type: 'PUT' as const, key: 'a', value: 'v1' },
    { rev: 3, type: 'PUT' as const, key: 'b', value: 'w1' },
    { rev: 4, type: 'DELETE' as const, key: 'a', value: '' },
  ];
  assert.deepEqual(checkWatchers(h, [W('w1', good, 4), W('w2', good, 4)]), []);
  const cases: [WatcherLog['events'], RegExp][] = [
    [[good[0]!, good[2]!], /missed the acknowledged write at rev 3/],
    [[good[0]!, good[1]!, good[1]!, good[2]!], /the same event twice/],
    [[good[1]!, good[0]!, good[2]!], /out of order/],
    [[good[0]!, { ...good[1]!, value: 'zz' }, good[2]!], /not the write acknowledged/],
    [[...good, { rev: 5, type: 'PUT', key: 'c', value: 'q' }], /an event no request made/],
  ];
  for (const [events, re] of cases) {
    const v = checkWatchers(h, [W('w1', events, 4)]);
    assert.ok(
      v.some((x) => re.test(x.what)),
      `${re}: ${JSON.stringify(v)}`,
    );
  }
  // Revisions above what a watcher has seen are not gaps yet.
  assert.deepEqual(checkWatchers(h, [W('w1', good.slice(0, 1), 2)]), []);
  // Two watchers that differ are reported.
  const v = checkWatchers(h, [
    W('w1', good, 4),
    W('w2', [good[0]!, { ...good[1]!, value: 'zz' }, good[2]!], 4),
  ]);
  assert.ok(v.some((x) => /disagree/.test(x.what)));
});

test('watch events settle failed writes: seen ones happened at their revision, unseen ones did not', () => {
  const h = [op(0, null, put('a', 'seen')), op(0, null, put('a', 'unseen')), op(0, null, get('a'))];
  const w = W('w1', [{ rev: 2, type: 'PUT', key: 'a', value: 'seen' }], 2);
  const s = settleUnknown(h, [w], 2);
  assert.equal(s.length, 1);
  assert.deepEqual(s[0]!.resp, { kind: 'put', rev: 2 });
  // While a watcher has not seen everything, nothing unseen is left out.
  assert.equal(settleUnknown(h, [{ ...w, upTo: 1 }], 2).length, 2);
});

test('watch: prev_kv must be what the key held before the event; a watcher from a later revision is checked from there', () => {
  const h = [
    op(0, 1, put('a', 'v1'), putOk(2)),
    op(2, 3, put('a', 'v2'), putOk(3)),
    op(4, 5, del('a'), { kind: 'delete', deleted: 1, rev: 4 }),
  ];
  const full = W(
    'w1',
    [
      { rev: 2, type: 'PUT', key: 'a', value: 'v1' },
      { rev: 3, type: 'PUT', key: 'a', value: 'v2' },
      { rev: 4, type: 'DELETE', key: 'a', value: '' },
    ],
    4,
  );
  const late = (prev3: { value: string; modRev: number } | null): WatcherLog => ({
    name: 'late',
    startRev: 3,
    upTo: 4,
    events: [
      { rev: 3, type: 'PUT', key: 'a', value: 'v2', prev: prev3 },
      { rev: 4, type: 'DELETE', key: 'a', value: '', prev: { value: 'v2', modRev: 3 } },
    ],
  });
  assert.deepEqual(checkWatchers(h, [full, late({ value: 'v1', modRev: 2 })]), []);
  const v = checkWatchers(h, [full, late(null)]);
  assert.ok(
    v.some((x) => /prev_kv of the event at rev 3 is absent, the key held v1@2/.test(x.what)),
    JSON.stringify(v),
  );
});
