// Catch-up passes shared by watchers at different revisions, and what "synced" means for a progress
// answer (both found by test/watch_guarantees.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  WatchableStore,
  type Watcher,
  type WatchEvent,
  type WatchSource,
  type WatcherOptions,
} from './watchable_store.ts';

function source(): WatchSource & { write(key: string): WatchEvent } {
  const log: WatchEvent[] = [];
  return {
    rev: () => log.length,
    compactRev: () => 0,
    history: async (from, to) => log.filter((e) => e.kv.modRevision >= from && e.kv.modRevision <= to),
    prevKv: () => undefined,
    write(key: string) {
      const rev = log.length + 1;
      const kv = { key: Buffer.from(key), createRevision: rev, modRevision: rev, version: 1, lease: 0n };
      const e: WatchEvent = { type: 'PUT', kv: { ...kv, value: Buffer.from(`v${rev}`) } };
      log.push(e);
      return e;
    },
  };
}

const settle = async () => {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
};

function opts(startRev: number, send: WatcherOptions['send']): WatcherOptions {
  return {
    key: Buffer.from('k'),
    end: undefined,
    startRev,
    noPut: false,
    noDelete: false,
    prevKv: false,
    send,
  };
}

test('a watcher ahead of a shared catch-up batch never goes back and gets no event twice', async () => {
  const src = source();
  const ws = new WatchableStore(src);
  for (let i = 0; i < 2500; i++) src.write('k');
  const fast: number[] = [];
  let room = true;
  const w = ws.watch(
    opts(2400, (d) => {
      fast.push(...d.events.map((e) => e.kv.modRevision));
      return room;
    }),
  );
  // The fast watcher takes 2400..2500 and is congested, then a watcher from revision 1 arrives.
  room = false;
  await settle();
  const slow: number[] = [];
  ws.watch(opts(1, (d) => (slow.push(...d.events.map((e) => e.kv.modRevision)), true)));
  room = true;
  ws.resume(w);
  await settle();
  const e = src.write('k');
  ws.notify([e], e.kv.modRevision);
  assert.equal(fast.length, new Set(fast).size, 'duplicates at the fast watcher');
  assert.deepEqual(
    fast,
    Array.from({ length: 102 }, (_, i) => 2400 + i),
  );
  assert.deepEqual(
    slow,
    Array.from({ length: 2501 }, (_, i) => 1 + i),
  );
});

test('during a notify pass, watchers not yet visited do not count as synced', () => {
  const src = source();
  const ws = new WatchableStore(src);
  let answered: boolean | undefined;
  const ws2: Watcher[] = [];
  // Visit order is insertion order: the first watcher's send runs before the second has the event.
  ws2.push(ws.watch(opts(0, () => ((answered ??= ws.allSynced(ws2)), true))));
  ws2.push(ws.watch(opts(0, () => true)));
  const e = src.write('k');
  ws.notify([e], 1);
  assert.equal(answered, false);
  assert.equal(ws.allSynced(ws2), true);
});
