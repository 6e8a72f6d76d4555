import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WatcherIndex, type GroupSpec, type KeyedEvent } from './watcher_group.ts';

const spec = (key: string, end?: string, o: Partial<GroupSpec> = {}): GroupSpec => ({
  key: Buffer.from(key),
  end: end === undefined ? undefined : Buffer.from(end),
  noPut: false,
  noDelete: false,
  prevKv: false,
  ...o,
});

const put = (key: string): KeyedEvent => ({ type: 'PUT', kv: { key: Buffer.from(key) } });
const del = (key: string): KeyedEvent => ({ type: 'DELETE', kv: { key: Buffer.from(key) } });

/** Watcher name -> keys of the events it would get. */
function delivered(idx: WatcherIndex<string>, events: KeyedEvent[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [g, evs] of idx.match(events))
    for (const w of g.watchers) out[w] = evs.map((e) => `${e.type} ${e.kv.key.toString()}`);
  return out;
}

test('watchers with the same range and filters share one group; different filters do not', () => {
  const idx = new WatcherIndex<string>();
  const a = idx.add('a', spec('p/', 'p0'));
  const b = idx.add('b', spec('p/', 'p0'));
  const c = idx.add('c', spec('p/', 'p0', { prevKv: true }));
  const d = idx.add('d', spec('p/', 'p0', { noPut: true }));
  assert.equal(a, b);
  assert.notEqual(a, c);
  assert.notEqual(a, d);
  assert.equal(idx.size, 4);
  const m = idx.match([put('p/1')]);
  assert.equal(m.length, 2, 'the NOPUT group gets nothing');
  const forA = m.filter(([g]) => g === a);
  assert.equal(forA.length, 1, 'one list per group');
  assert.deepEqual(
    forA[0]![1].map((e) => e.kv.key.toString()),
    ['p/1'],
  );
});

test('single keys, ranges, from-key ranges and filters select exactly their events, in order', () => {
  const idx = new WatcherIndex<string>();
  idx.add('key', spec('b'));
  idx.add('range', spec('b', 'd'));
  idx.add('from', spec('c', ''));
  idx.add('all', spec('\0', ''));
  idx.add('nodel', spec('a', 'z', { noDelete: true }));
  idx.add('late', spec('x', 'y'));
  const got = delivered(idx, [put('a'), put('b'), del('b'), put('c'), put('d'), del('bb')]);
  assert.deepEqual(got, {
    key: ['PUT b', 'DELETE b'],
    range: ['PUT b', 'DELETE b', 'PUT c', 'DELETE bb'],
    from: ['PUT c', 'PUT d'],
    all: ['PUT a', 'PUT b', 'DELETE b', 'PUT c', 'PUT d', 'DELETE bb'],
    nodel: ['PUT a', 'PUT b', 'PUT c', 'PUT d'],
  });
});

test('byte order decides range membership, including bytes above 0x7f', () => {
  const idx = new WatcherIndex<string>();
  idx.add('w', { ...spec(''), key: Buffer.from([0x61, 0x80]), end: Buffer.from([0x61, 0xff]) });
  const ev = (b: number[]): KeyedEvent => ({ type: 'PUT', kv: { key: Buffer.from(b) } });
  const m = idx.match([ev([0x61, 0x7f]), ev([0x61, 0x80]), ev([0x61, 0xfe]), ev([0x61, 0xff])]);
  assert.deepEqual(
    m[0]![1].map((e) => e.kv.key[1]),
    [0x80, 0xfe],
  );
});

test('removing the last watcher of a group drops the group; others keep theirs', () => {
  const idx = new WatcherIndex<string>();
  const g1 = idx.add('a', spec('k'));
  idx.add('b', spec('k'));
  const g2 = idx.add('c', spec('k', 'l'));
  idx.delete('a', g1);
  assert.deepEqual(delivered(idx, [put('k')]), { b: ['PUT k'], c: ['PUT k'] });
  idx.delete('b', g1);
  idx.delete('c', g2);
  idx.delete('c', g2);
  assert.equal(idx.size, 0);
  assert.deepEqual(idx.match([put('k')]), []);
  assert.deepEqual([...idx.all()], []);
  // A group made again after it was dropped works as new.
  idx.add('d', spec('k', 'l'));
  assert.deepEqual(delivered(idx, [put('k')]), { d: ['PUT k'] });
});

test('match agrees with a per-watcher scan on random ranges and keys', () => {
  let seed = 7;
  const rnd = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  const key = () => String.fromCharCode(97 + rnd(6)) + (rnd(2) ? String.fromCharCode(97 + rnd(6)) : '');
  const idx = new WatcherIndex<number>();
  const specs: GroupSpec[] = [];
  for (let i = 0; i < 200; i++) {
    const k = key();
    const r = rnd(3);
    const s = spec(k, r === 0 ? undefined : r === 1 ? '' : k + 'zz', {
      noPut: rnd(10) === 0,
      noDelete: rnd(10) === 0,
    });
    specs.push(s);
    idx.add(i, s);
  }
  const events = Array.from({ length: 300 }, () => (rnd(4) ? put(key()) : del(key())));
  const got = new Map<number, KeyedEvent[]>();
  for (const [g, evs] of idx.match(events)) for (const w of g.watchers) got.set(w, evs);
  specs.forEach((s, i) => {
    const want = events.filter((e) => {
      if (e.type === 'PUT' ? s.noPut : s.noDelete) return false;
      const k = e.kv.key;
      if (s.end === undefined) return k.equals(s.key);
      return Buffer.compare(k, s.key) >= 0 && (s.end.length === 0 || Buffer.compare(k, s.end) < 0);
    });
    assert.deepEqual(got.get(i) ?? [], want, `watcher ${i}`);
  });
});

test('a key inside a wide early range is found past many disjoint ranges between', () => {
  const idx = new WatcherIndex<string>();
  idx.add('wide', spec('a', 'z'));
  for (let i = 0; i < 100; i++)
    idx.add(`p${i}`, spec(`m${String(i).padStart(3, '0')}/`, `m${String(i).padStart(3, '0')}0`));
  idx.add('tail', spec('y', ''));
  assert.deepEqual(delivered(idx, [put('m050/x'), put('m999'), put('yy')]), {
    wide: ['PUT m050/x', 'PUT m999', 'PUT yy'],
    p50: ['PUT m050/x'],
    tail: ['PUT yy'],
  });
});
