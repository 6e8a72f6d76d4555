// The watch guarantees (etcd's API guarantees page) against a real tetcd process: 1,000 watchers on
// one member (key, range and prefix watches, some with prev_kv, some with NOPUT/NODELETE, some from
// old revisions) over 9 Watch streams on 3 channels, while 4 clients make 10,000 writes (puts,
// deletes, multi-key txns). The truth is built from the write responses alone; a full-range watcher
// from revision 1 must equal it, and every watcher must have received exactly its slice of it:
// each event once, in revision order, one revision per response (atomic), nothing missing
// (reliable). Some watchers are canceled and some streams closed midway and reopened from their
// last revision + 1 (resumable), and progress requests must never run ahead of delivery
// (bookmarkable).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type * as grpc from '@grpc/grpc-js';
import { Client } from './helpers/client.ts';
import { toNumber } from '../src/proto/index.ts';
import { startServer, type ServerHandle } from './helpers/procs.ts';
import {
  WatchStreamClient,
  watchChannel,
  type CreateSpec,
  type SeenEvent,
  type StreamWatch,
} from './helpers/watch_stream.ts';

const WATCHERS = 1000;
const WRITES = 10_000;
const GROUPS = 100;
const KEYS_PER_GROUP = 10;
const WRITERS = 4;
const LOOPS_PER_WRITER = 6;

type Any = Record<string, any>;

function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SEED = Number(process.env['SEED'] ?? Date.now() % 100_000);
const rnd = prng(SEED);
const pick = (n: number) => Math.floor(rnd() * n);
const g2 = (g: number) => String(g).padStart(2, '0');
const keyOf = (g: number, i: number) => `w/${g2(g)}/${i}`;

/** A write as the client saw it: revision and the events it must have produced, in order. */
interface TruthEvent {
  type: 'PUT' | 'DELETE';
  key: string;
  value: string;
}

/** One logical watcher: its spec and the segments (watch IDs) it had, concatenated. */
interface Logical {
  spec: CreateSpec;
  startRev: number;
  stream: WatchStreamClient;
  cur: StreamWatch;
  /** Events of finished segments, then `cur.events`. */
  done: SeenEvent[];
  reopened: number;
}

const seen = (l: Logical) => [...l.done, ...l.cur.events];
const lastRev = (l: Logical) => seen(l).at(-1)?.rev ?? l.startRev - 1;

function matches(s: CreateSpec, key: string, type: 'PUT' | 'DELETE'): boolean {
  if (type === 'PUT' ? s.noPut : s.noDelete) return false;
  if (s.end === undefined) return key === s.key;
  if (key < s.key) return false;
  return s.end === '\0' || key < s.end;
}

function randomSpec(): CreateSpec {
  const r = rnd();
  const g = pick(GROUPS);
  let s: CreateSpec;
  if (r < 0.35) s = { key: keyOf(g, pick(KEYS_PER_GROUP)) };
  else if (r < 0.7) s = { key: `w/${g2(g)}/`, end: `w/${g2(g)}0` };
  else if (r < 0.85) {
    const a = pick(KEYS_PER_GROUP - 1);
    s = { key: keyOf(g, a), end: keyOf(g, a + 1 + pick(KEYS_PER_GROUP - a - 1)) };
  } else {
    const to = g + 1 + pick(3);
    s = { key: `w/${g2(g)}/`, end: to < GROUPS ? `w/${g2(to)}/` : 'w0' };
  }
  if (rnd() < 0.3) s.prevKv = true;
  const f = rnd();
  if (f < 0.1) s.noPut = true;
  else if (f < 0.2) s.noDelete = true;
  return s;
}

let h: ServerHandle;
const channels: grpc.Client[] = [];
const writers: Client[] = [];

before(async () => {
  h = await startServer('tetcd');
  for (let i = 0; i < 3; i++) channels.push(watchChannel(h.endpoint));
  for (let i = 0; i < WRITERS; i++) writers.push(new Client(h.endpoint));
});

after(async () => {
  for (const c of channels) c.close();
  for (const w of writers) w.close();
  await h?.destroy();
});

test(
  `${WATCHERS} watchers see exactly their events of ${WRITES} writes (atomic, reliable, resumable, bookmarkable)`,
  {
    timeout: 120_000,
  },
  async () => {
    const t0 = performance.now();
    const streams: WatchStreamClient[] = [];
    for (let i = 0; i < 9; i++) streams.push(new WatchStreamClient(channels[i % channels.length]!));
    const open = async (spec: CreateSpec, stream: WatchStreamClient): Promise<Logical> => {
      const cur = await stream.create(spec);
      const startRev = spec.startRev ?? cur.createdRev + 1;
      return { spec, startRev, stream, cur, done: [], reopened: 0 };
    };

    // The reference: every key, from revision 1, on its own stream.
    const refStream = new WatchStreamClient(channels[0]!);
    const ref = await open({ key: '\0', end: '\0', startRev: 1, prevKv: true }, refStream);
    const logicals: Logical[] = [];
    const early = WATCHERS - 100;
    await Promise.all(
      Array.from({ length: early }, (_, i) => open(randomSpec(), streams[i % streams.length]!)),
    ).then((ls) => logicals.push(...ls));

    // The writes. `truth` maps revision -> events, from the write responses only.
    const truth = new Map<number, TruthEvent[]>();
    let issued = 0;
    let completed = 0;
    const record = (resp: Any, evs: TruthEvent[]) => {
      if (evs.length === 0) return;
      const rev = toNumber(resp['header'].revision);
      assert.equal(truth.has(rev), false, `two writes claim revision ${rev}`);
      truth.set(rev, evs);
    };
    const oneWrite = async (c: Client, n: number) => {
      const r = rnd();
      const val = `v${n}`;
      if (r < 0.55) {
        const key = keyOf(pick(GROUPS), pick(KEYS_PER_GROUP));
        record(await c.put(key, val), [{ type: 'PUT', key, value: val }]);
      } else if (r < 0.67) {
        const key = keyOf(pick(GROUPS), pick(KEYS_PER_GROUP));
        const d = await c.deleteRange(key, { prevKv: true });
        record(
          d,
          (d['prevKvs'] as Any[]).map(() => ({ type: 'DELETE' as const, key, value: '' })),
        );
      } else if (r < 0.7) {
        // A multi-key delete: a few keys of one group, in key order.
        const g = pick(GROUPS);
        const d = await c.deleteRange(keyOf(g, 3), { rangeEnd: Buffer.from(keyOf(g, 7)), prevKv: true });
        record(
          d,
          (d['prevKvs'] as Any[]).map((kv) => ({
            type: 'DELETE' as const,
            key: Buffer.from(kv['key']).toString(),
            value: '',
          })),
        );
      } else {
        const keys = new Set<string>();
        const want = 2 + pick(3);
        while (keys.size < want) keys.add(keyOf(pick(GROUPS), pick(KEYS_PER_GROUP)));
        const ks = [...keys];
        const delLast = rnd() < 0.3;
        const ops = ks.map((key, j) =>
          delLast && j === ks.length - 1
            ? { requestDeleteRange: { key: Buffer.from(key), prevKv: true } }
            : { requestPut: { key: Buffer.from(key), value: Buffer.from(`${val}.${j}`) } },
        );
        const t = await c.txn({ compare: [], success: ops, failure: [] });
        const evs: TruthEvent[] = [];
        ks.forEach((key, j) => {
          if (!(delLast && j === ks.length - 1)) evs.push({ type: 'PUT', key, value: `${val}.${j}` });
          else if ((t['responses'][j].responseDeleteRange.prevKvs as Any[]).length > 0)
            evs.push({ type: 'DELETE', key, value: '' });
        });
        record(t, evs);
      }
      completed++;
    };
    const writeLoops = writers.flatMap((c) =>
      Array.from({ length: LOOPS_PER_WRITER }, async () => {
        while (issued < WRITES) await oneWrite(c, issued++);
      }),
    );

    // Meanwhile: late watchers from old revisions, cancels and reopenings, stream closes, progress.
    const bookmarks: { stream: WatchStreamClient; rev: number; counts: Map<Logical, number> }[] = [];
    const askProgress = async (s: WatchStreamClient) => {
      const live = logicals.filter((l) => l.stream === s);
      await s.progress((rev) =>
        bookmarks.push({ stream: s, rev, counts: new Map(live.map((l) => [l, seen(l).length])) }),
      );
    };
    const until = async (n: number) => {
      while (completed < n) await new Promise((r) => setTimeout(r, 20));
    };
    const chaos = (async () => {
      await until(1500);
      await Promise.all(streams.map(askProgress));
      const lates: Promise<Logical>[] = [];
      for (let i = 0; i < WATCHERS - early; i++) {
        const spec = randomSpec();
        spec.startRev = 1 + pick(Math.max(1, completed));
        lates.push(open(spec, streams[i % streams.length]!));
      }
      logicals.push(...(await Promise.all(lates)));
      await until(4000);
      // Cancel 50 watchers and reopen each from its last revision + 1 on another stream.
      const victims = new Set<Logical>();
      while (victims.size < 50) victims.add(logicals[pick(logicals.length)]!);
      await Promise.all(
        [...victims].map(async (l) => {
          await l.stream.cancel(l.cur.id);
          l.done.push(...l.cur.events);
          const next = streams[(streams.indexOf(l.stream) + 1) % streams.length]!;
          const spec = { ...l.spec, startRev: lastRev(l) + 1 };
          l.cur = await next.create(spec);
          l.stream = next;
          l.reopened++;
        }),
      );
      await Promise.all(streams.map(askProgress));
      await until(6500);
      // Close a whole stream; its watchers resume on a new one.
      const gone = streams[4]!;
      gone.close();
      const fresh = new WatchStreamClient(channels[1]!);
      streams[4] = fresh;
      await Promise.all(
        logicals
          .filter((l) => l.stream === gone)
          .map(async (l) => {
            l.done.push(...l.cur.events);
            l.cur = await fresh.create({ ...l.spec, startRev: lastRev(l) + 1 });
            l.stream = fresh;
            l.reopened++;
          }),
      );
      await until(8500);
      await Promise.all(streams.map(askProgress));
    })();
    await Promise.all([...writeLoops, chaos]);
    const writeSecs = (performance.now() - t0) / 1000;

    // Everything written is at or below `final`; a progress answer at >= final on a stream means all
    // of its watchers have everything (that claim is itself checked below).
    const final = Math.max(...truth.keys());
    const nBefore = bookmarks.length;
    await Promise.all(streams.map(askProgress));
    for (const b of bookmarks.slice(nBefore))
      assert.ok(b.rev >= final, `progress at ${b.rev} < last write ${final}`);
    while (lastRev(ref) < final) await new Promise((r) => setTimeout(r, 20));

    // 1. The reference equals the truth: revisions 2..final, each with the written events.
    const refEvents = seen(ref);
    const byRev = new Map<number, SeenEvent[]>();
    for (const e of refEvents) byRev.set(e.rev, [...(byRev.get(e.rev) ?? []), e]);
    assert.equal(truth.size, final - 1, 'every revision 2..final came from one write');
    for (let rev = 2; rev <= final; rev++) {
      const want = truth.get(rev)!.map((e) => `${e.type} ${e.key} ${e.value}`);
      const got = (byRev.get(rev) ?? []).map((e) => `${e.type} ${e.key} ${e.value}`);
      assert.deepEqual(got, want, `reference watcher at revision ${rev}`);
    }
    assert.equal(
      refEvents.length,
      [...truth.values()].reduce((n, e) => n + e.length, 0),
    );
    // Versions, create revisions and prev_kv follow from the history itself.
    const state = new Map<string, SeenEvent>();
    const prevOf = new Map<SeenEvent, string>();
    for (const e of refEvents) {
      const before = state.get(e.key);
      const prev = before ? `${before.value}@${before.rev}` : '';
      prevOf.set(e, prev);
      assert.equal(e.prev, prev, `prev_kv of ${e.key}@${e.rev}`);
      if (e.type === 'PUT') {
        assert.equal(e.version, (before?.version ?? 0) + 1, `version of ${e.key}@${e.rev}`);
        assert.equal(e.createRev, before?.createRev ?? e.rev, `create revision of ${e.key}@${e.rev}`);
        state.set(e.key, e);
      } else state.delete(e.key);
    }

    // 2. Every watcher: exactly its slice, in order; one revision never spans two responses.
    const str = (e: SeenEvent, withPrev: boolean) =>
      `${e.rev} ${e.type} ${e.key} ${e.value} c${e.createRev} v${e.version}${withPrev ? ` p${e.prev}` : ''}`;
    let delivered = 0;
    for (const [i, l] of logicals.entries()) {
      const want = refEvents
        .filter((e) => e.rev >= l.startRev && matches(l.spec, e.key, e.type))
        .map((e) => str({ ...e, prev: prevOf.get(e)! }, !!l.spec.prevKv));
      const events = seen(l);
      const got = events.map((e) => str(e, !!l.spec.prevKv));
      delivered += got.length;
      if (got.join('\n') !== want.join('\n')) {
        let d = 0;
        while (got[d] === want[d]) d++;
        assert.fail(
          `watcher ${i} ${JSON.stringify(l.spec)} from ${l.startRev} (reopened ${l.reopened}x): ` +
            `${got.length} events, want ${want.length}; first difference at #${d}: got ${got[d]}, want ${want[d]}`,
        );
      }
      const respOfRev = new Map<number, number>();
      for (const e of events) {
        const r = respOfRev.get(e.rev);
        if (r !== undefined) assert.equal(e.resp, r, `revision ${e.rev} split (watcher ${i})`);
        respOfRev.set(e.rev, e.resp);
      }
    }
    assert.ok(logicals.filter((l) => l.reopened > 0).length >= 50);

    // 3. Bookmarks: at a progress answer at revision R, each watcher had every event <= R.
    for (const b of bookmarks) {
      for (const [l, count] of b.counts) {
        const due = seen(l).filter((e) => e.rev <= b.rev).length;
        assert.ok(count >= due, `progress at ${b.rev} came before ${due - count} of its events`);
      }
    }
    assert.ok(bookmarks.length >= 9 * 4);
    for (const s of [...streams, refStream]) {
      assert.equal(s.error, undefined);
      s.close();
    }
    console.log(
      `seed ${SEED}: ${WRITES} writes to revision ${final} in ${writeSecs.toFixed(1)} s; ` +
        `${delivered} events checked at ${logicals.length} watchers; ${bookmarks.length} bookmarks; ` +
        `${((performance.now() - t0) / 1000).toFixed(1)} s in all`,
    );
  },
);
