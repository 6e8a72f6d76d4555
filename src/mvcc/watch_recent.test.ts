import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RecentEvents } from './watch_recent.ts';
import { WatchableStore, type WatchEvent } from './watchable_store.ts';

const ev = (rev: number, size = 1): WatchEvent => ({
  type: 'PUT',
  kv: {
    key: Buffer.from(`k${rev}`),
    createRevision: rev,
    modRevision: rev,
    version: 1,
    value: Buffer.alloc(size),
    lease: 0n,
  },
});

const revs = (es: WatchEvent[] | undefined) => es?.map((e) => e.kv.modRevision);

test('serves a range only when it holds every revision of it', () => {
  const r = new RecentEvents<WatchEvent>(5, 1 << 20);
  for (let rev = 1; rev <= 8; rev++) r.add(rev, rev === 6 ? [ev(6), ev(6)] : [ev(rev)]);
  assert.deepEqual(revs(r.range(4, 8)), [4, 5, 6, 6, 7, 8]);
  assert.equal(r.range(3, 8), undefined, 'revision 3 was dropped (5 revisions kept)');
  assert.equal(r.range(7, 9), undefined, 'revision 9 is not known yet');
  assert.deepEqual(revs(r.range(8, 8)), [8]);
});

test('a gap in revisions drops everything before it; a byte bound drops the oldest', () => {
  const r = new RecentEvents<WatchEvent>(100, 1000);
  r.add(1, [ev(1)]);
  r.add(2, [ev(2)]);
  r.add(5, [ev(5)]);
  assert.equal(r.range(1, 2), undefined);
  assert.deepEqual(revs(r.range(5, 5)), [5]);
  r.add(6, [ev(6, 600)]);
  r.add(7, [ev(7, 600)]);
  assert.equal(r.range(6, 7), undefined);
  assert.deepEqual(revs(r.range(7, 7)), [7]);
});

test('stays correct across many revisions (the consumed front is dropped now and then)', () => {
  const r = new RecentEvents<WatchEvent>(100, 1 << 30);
  for (let rev = 1; rev <= 5000; rev++) r.add(rev, [ev(rev)]);
  assert.deepEqual(
    revs(r.range(4901, 5000)),
    Array.from({ length: 100 }, (_, i) => 4901 + i),
  );
  assert.equal(r.range(4900, 5000), undefined);
});

test('a briefly congested watcher catches up from memory, without reading history', async () => {
  const log: WatchEvent[] = [];
  const ws = new WatchableStore({
    rev: () => log.length,
    compactRev: () => 0,
    history: () => Promise.reject(new Error('history read')),
    prevKv: () => undefined,
  });
  let room = true;
  const got: number[] = [];
  const w = ws.watch({
    key: Buffer.from('k'),
    end: Buffer.alloc(0),
    startRev: 0,
    noPut: false,
    noDelete: false,
    prevKv: false,
    send: (d) => (got.push(...d.events.map((e) => e.kv.modRevision)), room),
  });
  const write = () => {
    const e = ev(log.length + 1);
    log.push(e);
    ws.notify([e], e.kv.modRevision);
  };
  room = false;
  for (let i = 0; i < 5; i++) write();
  assert.deepEqual(got, [1]);
  room = true;
  ws.resume(w);
  for (let i = 0; i < 10 && !w.synced; i++) await new Promise((r) => setImmediate(r));
  assert.deepEqual(got, [1, 2, 3, 4, 5]);
  assert.equal(w.synced, true);
});
