import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WatchableStore, type WatchDelivery, type WatchEvent, type WatchSource } from './watchable_store.ts';

/** An in-memory history: one event per revision, keys given per revision. */
function source(): WatchSource & { write(key: string): WatchEvent; compact(rev: number): void } {
  const log: WatchEvent[] = [];
  let compacted = 0;
  return {
    rev: () => log.length,
    compactRev: () => compacted,
    history: async (from, to) => log.filter((e) => e.kv.modRevision >= from && e.kv.modRevision <= to),
    prevKv: (key, rev) => {
      for (let i = rev - 2; i >= 0; i--) if (log[i]!.kv.key.equals(key)) return log[i]!.kv;
      return undefined;
    },
    write(key: string) {
      const rev = log.length + 1;
      const e: WatchEvent = {
        type: 'PUT',
        kv: {
          key: Buffer.from(key),
          createRevision: rev,
          modRevision: rev,
          version: 1,
          value: Buffer.from(`v${rev}`),
          lease: 0n,
        },
      };
      log.push(e);
      return e;
    },
    compact(rev: number) {
      compacted = rev;
    },
  };
}

const tick = () => new Promise((r) => setImmediate(r));
async function settle(n = 5) {
  for (let i = 0; i < n; i++) await tick();
}

function collect() {
  const got: WatchDelivery[] = [];
  return {
    got,
    send: (d: WatchDelivery) => (got.push(d), true),
    revs: () => got.flatMap((d) => d.events.map((e) => e.kv.modRevision)),
  };
}

test('a synced watcher gets each matching event once, as the txn ends', () => {
  const src = source();
  const ws = new WatchableStore(src);
  const c = collect();
  ws.watch({
    key: Buffer.from('a'),
    end: undefined,
    startRev: 0,
    noPut: false,
    noDelete: false,
    prevKv: false,
    send: c.send,
  });
  for (const k of ['a', 'b', 'a']) {
    const e = src.write(k);
    ws.notify([e], e.kv.modRevision);
  }
  assert.deepEqual(c.revs(), [1, 3]);
});

test('a watcher from an old revision replays history, then continues live without gaps or duplicates', async () => {
  const src = source();
  const ws = new WatchableStore(src);
  for (const k of ['p/1', 'x', 'p/2']) src.write(k);
  const c = collect();
  ws.watch({
    key: Buffer.from('p/'),
    end: Buffer.from('p0'),
    startRev: 1,
    noPut: false,
    noDelete: false,
    prevKv: false,
    send: c.send,
  });
  // A write lands before the catch-up pass runs.
  const e4 = src.write('p/3');
  ws.notify([e4], 4);
  await settle();
  const e5 = src.write('p/4');
  ws.notify([e5], 5);
  assert.deepEqual(c.revs(), [1, 3, 4, 5]);
});

test('a start revision below compaction cancels with the compact revision', async () => {
  const src = source();
  const ws = new WatchableStore(src);
  for (let i = 0; i < 5; i++) src.write('k');
  src.compact(3);
  const c = collect();
  ws.watch({
    key: Buffer.from('k'),
    end: undefined,
    startRev: 2,
    noPut: false,
    noDelete: false,
    prevKv: false,
    send: c.send,
  });
  await settle();
  assert.equal(c.got.length, 1);
  assert.equal(c.got[0]!.compactRevision, 3);
});

test('a congested watcher stops taking live events and catches up after resume, missing nothing', async () => {
  const src = source();
  const ws = new WatchableStore(src);
  const got: number[] = [];
  let room = true;
  const w = ws.watch({
    key: Buffer.from('k'),
    end: undefined,
    startRev: 0,
    noPut: false,
    noDelete: false,
    prevKv: false,
    send: (d) => {
      got.push(...d.events.map((e) => e.kv.modRevision));
      return room;
    },
  });
  room = false;
  for (let i = 0; i < 3; i++) {
    const e = src.write('k');
    ws.notify([e], e.kv.modRevision);
  }
  // Only the first live event reached it; after that it is unsynced and gets nothing live.
  assert.deepEqual(got, [1]);
  room = true;
  ws.resume(w);
  await settle();
  assert.deepEqual(got, [1, 2, 3]);
  assert.equal(w.synced, true);
  const e = src.write('k');
  ws.notify([e], 4);
  assert.deepEqual(got, [1, 2, 3, 4]);
});

test('filters and prev_kv apply per watcher without leaking into other watchers', () => {
  const src = source();
  const ws = new WatchableStore(src);
  const a = collect();
  const b = collect();
  ws.watch({
    key: Buffer.from('k'),
    end: undefined,
    startRev: 0,
    noPut: false,
    noDelete: false,
    prevKv: true,
    send: a.send,
  });
  ws.watch({
    key: Buffer.from('k'),
    end: undefined,
    startRev: 0,
    noPut: false,
    noDelete: false,
    prevKv: false,
    send: b.send,
  });
  ws.watch({
    key: Buffer.from('k'),
    end: undefined,
    startRev: 0,
    noPut: true,
    noDelete: false,
    prevKv: false,
    send: () => assert.fail('NOPUT watcher got a put'),
  });
  for (let i = 0; i < 2; i++) {
    const e = src.write('k');
    ws.notify([e], e.kv.modRevision);
  }
  assert.equal(a.got[1]!.events[0]!.prevKv?.modRevision, 1);
  assert.equal(b.got[1]!.events[0]!.prevKv, undefined);
});
