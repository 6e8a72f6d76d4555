import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IntervalSet, PermType, UnifiedPerms } from './range_perm_cache.ts';

const b = (s: string) => Buffer.from(s);
const perm = (permType: number, key: string, rangeEnd = '') => ({
  permType,
  key: b(key),
  rangeEnd: b(rangeEnd),
});

test('a single-key permission covers that key only (etcd checks a key as a point)', () => {
  const u = UnifiedPerms.merge([perm(PermType.READ, 'foo')]);
  assert.equal(u.permitted(b('foo'), undefined, false), true);
  assert.equal(u.permitted(b('foo0'), undefined, false), false);
  assert.equal(u.permitted(b('fo'), undefined, false), false);
  assert.equal(u.permitted(b('foo'), undefined, true), false, 'read does not grant write');
  // A range [foo, foo\0) is the key itself.
  assert.equal(u.permitted(b('foo'), b('foo\0'), false), true);
  assert.equal(u.permitted(b('foo'), b('fop'), false), false);
});

test('a range permission covers ranges inside it and not ones that stick out', () => {
  const u = UnifiedPerms.merge([perm(PermType.WRITE, 'a', 'c')]);
  assert.equal(u.permitted(b('a'), undefined, true), true);
  assert.equal(u.permitted(b('bzzz'), undefined, true), true);
  assert.equal(u.permitted(b('c'), undefined, true), false, 'the end is open');
  assert.equal(u.permitted(b('a'), b('c'), true), true);
  assert.equal(u.permitted(b('a'), b('d'), true), false);
  assert.equal(u.permitted(b('a'), b('\0'), true), false, 'from a to the end of the keyspace');
});

test('touching and overlapping ranges of several roles merge into one (etcd counts them contiguous)', () => {
  const u = UnifiedPerms.merge([
    perm(PermType.READ, 'a', 'b'),
    perm(PermType.READWRITE, 'b', 'd'),
    perm(PermType.READ, 'c', 'e'),
  ]);
  assert.equal(u.permitted(b('a'), b('e'), false), true);
  assert.equal(u.permitted(b('a'), b('e0'), false), false);
  assert.equal(u.permitted(b('b'), b('d'), true), true);
  assert.equal(u.permitted(b('a'), b('c'), true), false, 'write only on [b, d)');
});

test('a gap between two ranges is not covered', () => {
  const u = UnifiedPerms.merge([perm(PermType.READ, 'a', 'b'), perm(PermType.READ, 'c', 'd')]);
  assert.equal(u.permitted(b('a'), b('d'), false), false);
  assert.equal(u.permitted(b('b'), undefined, false), false);
  assert.equal(u.permitted(b('c'), undefined, false), true);
});

test('a range end of "\\0" in a permission reaches the end of the keyspace (--from-key)', () => {
  const u = UnifiedPerms.merge([perm(PermType.READ, 'z', '\0')]);
  assert.equal(u.permitted(b('z'), b('\0'), false), true);
  assert.equal(u.permitted(b('zzz'), undefined, false), true);
  assert.equal(u.permitted(b('\xff\xff'), undefined, false), true);
  assert.equal(u.permitted(b('y'), b('\0'), false), false);
});

test('an empty request range (end <= key) is never permitted, as etcd answers', () => {
  const u = UnifiedPerms.merge([perm(PermType.READ, '', '\0')]);
  assert.equal(u.permitted(b('b'), b('a'), false), false);
  assert.equal(u.permitted(b('b'), b('b'), false), false);
});

test('an interval set seals into disjoint sorted segments', () => {
  const s = new IntervalSet();
  s.add(b('m'), b('p'));
  s.add(b('a'), b('c'));
  s.add(b('b'), b('e'));
  s.add(b('x'), undefined);
  s.seal();
  assert.equal(s.covers(b('a'), b('e')), true);
  assert.equal(s.covers(b('m'), b('p')), true);
  assert.equal(s.covers(b('e'), b('m')), false);
  assert.equal(s.covers(b('x'), undefined), true);
  assert.equal(s.hasPoint(b('zz')), true);
  assert.equal(s.hasPoint(b('f')), false);
});
