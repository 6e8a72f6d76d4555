import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { Backend } from '../backend/backend.ts';
import { KVStore } from './kvstore.ts';
import { ErrCompacted, ErrFutureRev } from './errors.ts';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'tetcd-mvcc-'));
  dirs.push(d);
  return d;
}

const B = (s: string) => Buffer.from(s);
const str = (b: Buffer) => b.toString();

function put(kv: KVStore, k: string, v: string, lease = 0n): number {
  const t = kv.write();
  t.put(B(k), B(v), lease);
  t.end();
  return kv.rev();
}

test('a write txn shares one revision; sub revisions order its changes', async () => {
  const be = Backend.open(tmp());
  const kv = await KVStore.open(be);
  assert.equal(kv.rev(), 1);
  const t = kv.write();
  t.put(B('a'), B('1'), 0n);
  t.put(B('b'), B('2'), 0n);
  assert.equal(t.range(B('a'), undefined).kvs[0]!.modRevision, 2, 'the txn sees its own write');
  t.end();
  assert.equal(kv.rev(), 2);
  const r = kv.range(B('a'), B('c'));
  assert.deepEqual(
    r.kvs.map((x) => [str(x.key), x.modRevision, x.createRevision, x.version]),
    [
      ['a', 2, 2, 1],
      ['b', 2, 2, 1],
    ],
  );
  await be.close();
});

test('delete ends a generation: version resets, create revision moves', async () => {
  const be = Backend.open(tmp());
  const kv = await KVStore.open(be);
  put(kv, 'k', 'a');
  put(kv, 'k', 'b');
  const t = kv.write();
  assert.equal(t.deleteRange(B('k'), undefined).deleted, 1);
  t.end();
  const rev = put(kv, 'k', 'c');
  const got = kv.range(B('k'), undefined).kvs[0]!;
  assert.equal(got.version, 1);
  assert.equal(got.createRevision, rev);
  assert.equal(str(kv.range(B('k'), undefined, { rev: 3 }).kvs[0]!.value), 'b');
  assert.equal(kv.range(B('k'), undefined, { rev: 4 }).kvs.length, 0);
  await be.close();
});

test('hashKV reports compact revision -1 before any compaction (as etcd)', async () => {
  const be = Backend.open(tmp());
  const kv = await KVStore.open(be);
  assert.equal((await kv.hashKV(0)).compactRevision, -1);
  put(kv, 'a', '1');
  assert.equal((await kv.hashKV(0)).compactRevision, -1);
  await be.close();
});

test('a delete of nothing changes nothing and bumps no revision', async () => {
  const be = Backend.open(tmp());
  const kv = await KVStore.open(be);
  const t = kv.write();
  assert.equal(t.deleteRange(B('none'), undefined).deleted, 0);
  t.end();
  assert.equal(kv.rev(), 1);
  await be.close();
});

test('range forms: single key, [key, end), from key ("\\0"), all keys, limit and count', async () => {
  const be = Backend.open(tmp());
  const kv = await KVStore.open(be);
  for (const k of ['a', 'b', 'c', 'd']) put(kv, k, k);
  const keys = (r: { kvs: { key: Buffer }[] }) => r.kvs.map((x) => str(x.key));
  assert.deepEqual(keys(kv.range(B('b'), undefined)), ['b']);
  assert.deepEqual(keys(kv.range(B('b'), B('d'))), ['b', 'c']);
  assert.deepEqual(keys(kv.range(B('b'), Buffer.from([0]))), ['b', 'c', 'd']);
  assert.deepEqual(keys(kv.range(Buffer.from([0]), Buffer.from([0]))), ['a', 'b', 'c', 'd']);
  const lim = kv.range(B('a'), B('z'), { limit: 2 });
  assert.deepEqual(keys(lim), ['a', 'b']);
  assert.equal(lim.count, 4);
  const cnt = kv.range(B('a'), B('z'), { countOnly: true });
  assert.equal(cnt.kvs.length, 0);
  assert.equal(cnt.count, 4);
  await be.close();
});

test('future and compacted revisions are refused; the compact revision stays readable', async () => {
  const be = Backend.open(tmp());
  const kv = await KVStore.open(be);
  for (let i = 0; i < 5; i++) put(kv, 'k', `v${i}`);
  assert.throws(() => kv.range(B('k'), undefined, { rev: 7 }), ErrFutureRev);
  await kv.compact(4).done;
  assert.equal(str(kv.range(B('k'), undefined, { rev: 4 }).kvs[0]!.value), 'v2');
  assert.throws(() => kv.range(B('k'), undefined, { rev: 3 }), ErrCompacted);
  assert.throws(() => kv.compact(4), ErrCompacted);
  assert.throws(() => kv.compact(99), ErrFutureRev);
  await be.close();
});

test('restart restores the index, the revision, the compaction and the consistent index', async () => {
  const dir = tmp();
  let be = Backend.open(dir);
  let kv = await KVStore.open(be);
  for (let i = 0; i < 10; i++) put(kv, `k${i % 3}`, `v${i}`);
  const t = kv.write();
  t.deleteRange(B('k1'), undefined);
  t.end({ consistentIndex: 42, term: 3 });
  await kv.compact(6).done;
  const before = kv.range(Buffer.from([0]), Buffer.from([0]));
  await be.close();
  be = Backend.open(dir);
  kv = await KVStore.open(be);
  assert.equal(kv.rev(), 12);
  assert.equal(kv.compactRev(), 6);
  assert.equal(kv.consistentIndex(), 42);
  assert.deepEqual(kv.range(Buffer.from([0]), Buffer.from([0])), before);
  assert.equal(str(kv.range(B('k2'), undefined, { rev: 6 }).kvs[0]!.value), 'v2');
  assert.throws(() => kv.range(B('k0'), undefined, { rev: 5 }), ErrCompacted);
  const h1 = await kv.hashKV(0);
  assert.equal(h1.compactRevision, 6);
  await be.close();
  be = Backend.open(dir);
  kv = await KVStore.open(be);
  assert.deepEqual(await kv.hashKV(0), h1);
  await be.close();
});

test('txn end listeners hear every change once, with the new revision', async () => {
  const be = Backend.open(tmp());
  const kv = await KVStore.open(be);
  const heard: string[] = [];
  kv.onTxnEnd((evs, rev) => heard.push(`${rev}:${evs.map((e) => `${e.type}:${str(e.kv.key)}`).join(',')}`));
  put(kv, 'a', '1');
  const t = kv.write();
  t.put(B('b'), B('2'), 0n);
  t.deleteRange(B('a'), undefined);
  t.end();
  const empty = kv.write();
  empty.end();
  assert.deepEqual(heard, ['2:PUT:a', '3:PUT:b,DELETE:a']);
  await be.close();
});

test('model check: random put/delete/range/compact/reopen sequences agree with a simple model', async () => {
  type Cmd =
    | { c: 'put'; k: string; v: string }
    | { c: 'del'; k: string; prefix: boolean }
    | { c: 'get'; k: string; back: number }
    | { c: 'compact'; back: number }
    | { c: 'reopen' };
  const key = fc.constantFrom('a', 'b', 'ab', 'b/x');
  const cmd: fc.Arbitrary<Cmd> = fc.oneof(
    fc.record({ c: fc.constant('put' as const), k: key, v: fc.constantFrom('1', '2', '') }),
    fc.record({ c: fc.constant('del' as const), k: key, prefix: fc.boolean() }),
    fc.record({ c: fc.constant('get' as const), k: key, back: fc.integer({ min: 0, max: 4 }) }),
    fc.record({ c: fc.constant('compact' as const), back: fc.integer({ min: 0, max: 3 }) }),
    fc.constant({ c: 'reopen' as const }),
  );
  await fc.assert(
    fc.asyncProperty(fc.array(cmd, { maxLength: 25 }), async (cmds) => {
      const dir = tmp();
      let be = Backend.open(dir);
      let kv = await KVStore.open(be);
      // model: snapshots of the whole map at every revision
      const snaps: Map<string, string>[] = [new Map(), new Map()];
      let compacted = 0;
      try {
        for (const c of cmds) {
          const cur = new Map(snaps[snaps.length - 1]!);
          if (c.c === 'put') {
            put(kv, c.k, c.v);
            cur.set(c.k, c.v);
            snaps.push(cur);
          } else if (c.c === 'del') {
            const t = kv.write();
            const end = c.prefix
              ? B(c.k.slice(0, -1) + String.fromCharCode(c.k.charCodeAt(c.k.length - 1) + 1))
              : undefined;
            const n = t.deleteRange(B(c.k), end).deleted;
            t.end();
            const gone = [...cur.keys()].filter((k) => (c.prefix ? k.startsWith(c.k) : k === c.k));
            assert.equal(n, gone.length);
            if (gone.length) {
              for (const k of gone) cur.delete(k);
              snaps.push(cur);
            }
          } else if (c.c === 'get') {
            const rev = Math.max(1, kv.rev() - c.back);
            if (rev < compacted) {
              assert.throws(() => kv.range(B(c.k), undefined, { rev }), ErrCompacted);
            } else {
              const got = kv.range(B(c.k), undefined, { rev }).kvs[0];
              assert.equal(got ? str(got.value) : undefined, snaps[rev]!.get(c.k));
            }
          } else if (c.c === 'compact') {
            const rev = kv.rev() - c.back;
            if (rev > compacted && rev >= 1) {
              await kv.compact(rev).done;
              compacted = rev;
            }
          } else {
            await be.close();
            be = Backend.open(dir);
            kv = await KVStore.open(be);
          }
          assert.equal(kv.rev(), snaps.length - 1);
        }
      } finally {
        await be.close();
      }
    }),
    { numRuns: 60, seed: 7 },
  );
});
