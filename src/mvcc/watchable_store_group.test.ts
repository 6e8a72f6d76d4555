// The store with its watchers grouped by range and filters (watcher_group.ts): what a group shares,
// what "synced" means for watchers a pass does not concern, and changes to a group during a pass.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  WatchableStore,
  type WatchDelivery,
  type Watcher,
  type WatchEvent,
  type WatchSource,
  type WatcherOptions,
} from './watchable_store.ts';

function source(): WatchSource & { write(key: string): WatchEvent; prevLookups: number } {
  const log: WatchEvent[] = [];
  const s = {
    prevLookups: 0,
    rev: () => log.length,
    compactRev: () => 0,
    history: async (from: number, to: number) =>
      log.filter((e) => e.kv.modRevision >= from && e.kv.modRevision <= to),
    prevKv: (key: Buffer, rev: number) => {
      s.prevLookups++;
      for (let i = rev - 2; i >= 0; i--) if (log[i]!.kv.key.equals(key)) return log[i]!.kv;
      return undefined;
    },
    write(key: string) {
      const rev = log.length + 1;
      const kv = { key: Buffer.from(key), createRevision: rev, modRevision: rev, version: 1, lease: 0n };
      const e: WatchEvent = { type: 'PUT', kv: { ...kv, value: Buffer.from(`v${rev}`) } };
      log.push(e);
      return e;
    },
  };
  return s;
}

function opts(key: string, send: WatcherOptions['send'], o: Partial<WatcherOptions> = {}): WatcherOptions {
  return {
    key: Buffer.from(key),
    end: undefined,
    startRev: 0,
    noPut: false,
    noDelete: false,
    prevKv: false,
    send,
    ...o,
  };
}

const settle = async () => {
  for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
};

test('watchers of one range are handed the same delivery; other ranges get their own', () => {
  const src = source();
  const ws = new WatchableStore(src);
  const got: [string, WatchDelivery][] = [];
  for (const name of ['a1', 'a2', 'a3']) ws.watch(opts('a', (d) => (got.push([name, d]), true)));
  ws.watch(opts('a', (d) => (got.push(['p', d]), true), { end: Buffer.from('b') }));
  ws.watch(opts('z', () => assert.fail('a watcher of z got an event')));
  const e = src.write('a');
  ws.notify([e], 1);
  assert.deepEqual(
    got.map(([n]) => n),
    ['a1', 'a2', 'a3', 'p'],
  );
  assert.equal(got[0]![1], got[1]![1]);
  assert.equal(got[1]![1], got[2]![1]);
  assert.deepEqual(got[3]![1].events, [e]);
  assert.equal(got[3]![1].revision, 1);
});

test('during a pass, watchers the revision does not concern count as synced; those still owed it do not', () => {
  const src = source();
  const ws = new WatchableStore(src);
  const other: Watcher[] = [];
  const owed: Watcher[] = [];
  const answers: boolean[] = [];
  other.push(ws.watch(opts('z', () => true)));
  ws.watch(opts('a', () => (answers.push(ws.allSynced(other), ws.allSynced(owed)), true)));
  owed.push(ws.watch(opts('a', () => true)));
  const e = src.write('a');
  ws.notify([e], 1);
  assert.deepEqual(answers, [true, false]);
  assert.equal(ws.allSynced([...other, ...owed]), true);
});

test('a watcher canceled by another during a pass gets nothing more; one created during it starts later', () => {
  const src = source();
  const ws = new WatchableStore(src);
  const got: string[] = [];
  let late: Watcher | undefined;
  // eslint-disable-next-line prefer-const
  let victim: Watcher;
  ws.watch(
    opts('a', () => {
      got.push('first');
      ws.cancel(victim);
      late ??= ws.watch(opts('a', (d) => (got.push(`late@${d.revision}`), true)));
      return true;
    }),
  );
  victim = ws.watch(opts('a', () => (got.push('victim'), true)));
  ws.notify([src.write('a')], 1);
  ws.notify([src.write('a')], 2);
  assert.deepEqual(got, ['first', 'first', 'late@2']);
  assert.equal(late!.synced, true);
});

test('prev_kv is looked up once per event per pass, however many prev_kv groups want it', () => {
  const src = source();
  const ws = new WatchableStore(src);
  const seen: (number | undefined)[] = [];
  const keep = (d: WatchDelivery) => (seen.push(d.events[0]!.prevKv?.modRevision), true);
  ws.watch(opts('k', keep, { prevKv: true }));
  ws.watch(opts('k', keep, { prevKv: true, end: Buffer.from('l') }));
  ws.watch(opts('a', keep, { prevKv: true, end: Buffer.alloc(0) }));
  ws.watch(opts('k', (d) => (seen.push(d.events[0]!.prevKv?.modRevision ?? -1), true)));
  ws.notify([src.write('k')], 1);
  src.prevLookups = 0;
  ws.notify([src.write('k')], 2);
  assert.equal(src.prevLookups, 1);
  assert.deepEqual(seen.slice(4).sort(), [-1, 1, 1, 1]);
});

test('a refusing watcher leaves its group and catches up; its group mates stay live', async () => {
  const src = source();
  const ws = new WatchableStore(src);
  let room = true;
  const slow: number[] = [];
  const fast: number[] = [];
  const w = ws.watch(opts('k', (d) => (slow.push(...d.events.map((e) => e.kv.modRevision)), room)));
  ws.watch(opts('k', (d) => (fast.push(...d.events.map((e) => e.kv.modRevision)), true)));
  room = false;
  ws.notify([src.write('k')], 1);
  assert.equal(w.synced, false);
  for (const rev of [2, 3]) ws.notify([src.write('k')], rev);
  assert.deepEqual(fast, [1, 2, 3]);
  assert.deepEqual(slow, [1]);
  room = true;
  ws.resume(w);
  await settle();
  assert.equal(w.synced, true);
  ws.notify([src.write('k')], 4);
  assert.deepEqual(slow, [1, 2, 3, 4]);
  assert.deepEqual(fast, [1, 2, 3, 4]);
});
