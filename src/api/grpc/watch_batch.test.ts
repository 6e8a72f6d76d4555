import { test } from 'node:test';
import assert from 'node:assert/strict';
import { messageType, toNumber } from '../../proto/index.ts';
import type { WatchEvent } from '../../mvcc/watchable_store.ts';
import { batchResponses, encodeUnit, type BatchOptions, type Unit } from './watch_batch.ts';
import { HeaderCache, eventsResponse } from './watch_codec.ts';

const WatchResponse = messageType('etcdserverpb.WatchResponse');
type Any = Record<string, any>;

const headers = new HeaderCache((revision) => ({ revision }));

function ev(rev: number, key: string, size = 10): WatchEvent {
  return {
    type: 'PUT',
    kv: {
      key: Buffer.from(key),
      createRevision: rev,
      modRevision: rev,
      version: 1,
      value: Buffer.alloc(size, 0x61),
      lease: 0n,
    },
  };
}

/** Decoded responses: header revision, fragment flag and the events as `rev:key`. */
function run(units: Unit[], o: Partial<BatchOptions> = {}) {
  const out: { rev: number; fragment: boolean; events: string[]; id: number }[] = [];
  const opts: BatchOptions = {
    watchId: 5,
    cap: 1 << 20,
    max: 1 << 20,
    fragment: false,
    header: (r) => headers.get(r, 1),
    ...o,
  };
  batchResponses(units, opts, (h, id, entries, fragment) => {
    const r = WatchResponse.decode(eventsResponse(h, id, entries, fragment)) as unknown as Any;
    out.push({
      rev: toNumber(r['header'].revision),
      fragment: r['fragment'],
      id: toNumber(r['watchId']),
      events: (r['events'] as Any[]).map(
        (e) => `${toNumber(e['kv'].modRevision)}:${Buffer.from(e['kv'].key).toString()}`,
      ),
    });
  });
  return out;
}

test('deliveries of several revisions go out as one response with the last revision in the header', () => {
  const units = [2, 3, 4].map((r) => encodeUnit([ev(r, 'a'), ev(r, 'b')], r, false));
  assert.deepEqual(run(units), [
    { rev: 4, fragment: false, id: 5, events: ['2:a', '2:b', '3:a', '3:b', '4:a', '4:b'] },
  ]);
});

test('the cap splits between revisions only, and every response says the revision it reaches', () => {
  // Each revision is 3 events of ~20 bytes: a 50-byte cap fits one revision at a time (never two).
  const units = [
    encodeUnit(
      [2, 2, 2, 3, 3, 3, 7].map((r, i) => ev(r, `k${i}`)),
      9,
      false,
    ),
  ];
  const got = run(units, { cap: 50 });
  assert.deepEqual(
    got.map((r) => [r.rev, r.events.map((e) => e.split(':')[0]).join(',')]),
    [
      [2, '2,2,2'],
      [3, '3,3,3'],
      [9, '7'],
    ],
  );
});

test('a revision larger than the cap is still sent whole', () => {
  const units = [
    encodeUnit([ev(2, 'x', 100), ev(2, 'y', 100)], 2, false),
    encodeUnit([ev(3, 'z')], 3, false),
  ];
  const got = run(units, { cap: 50 });
  assert.deepEqual(
    got.map((r) => r.events),
    [['2:x', '2:y'], ['3:z']],
  );
});

test('a revision over --max-request-bytes is fragmented for a watcher that asked, never mixed with others', () => {
  const big = encodeUnit(
    Array.from({ length: 5 }, (_, i) => ev(3, `k${i}`, 100)),
    3,
    false,
  );
  const units = [encodeUnit([ev(2, 'a')], 2, false), big, encodeUnit([ev(4, 'b')], 4, false)];
  const got = run(units, { cap: 250, max: 250, fragment: true });
  assert.deepEqual(
    got.map((r) => [r.rev, r.fragment, r.events.length]),
    [
      [2, false, 1],
      [3, true, 2],
      [3, true, 2],
      [3, false, 1],
      [4, false, 1],
    ],
  );
  // Without the fragment option the same revision goes out whole.
  const whole = run(units, { cap: 250, max: 250, fragment: false });
  assert.deepEqual(
    whole.map((r) => r.events.length),
    [1, 5, 1],
  );
});

test('every event is sent once, in order, whatever the cap', () => {
  const units: Unit[] = [];
  let rev = 1;
  const all: string[] = [];
  for (let u = 0; u < 20; u++) {
    const evs: WatchEvent[] = [];
    for (let r = 0; r < 1 + (u % 4); r++, rev++)
      for (let k = 0; k < 1 + ((u + r) % 3); k++) {
        evs.push(ev(rev, `k${k}`, (u * 7 + k) % 50));
        all.push(`${rev}:k${k}`);
      }
    units.push(encodeUnit(evs, rev - 1, false));
  }
  for (const cap of [1, 60, 200, 1000, 1 << 20]) {
    const got = run(units, { cap });
    assert.deepEqual(
      got.flatMap((r) => r.events),
      all,
      `cap ${cap}`,
    );
    const respOf = new Map<string, number>();
    got.forEach((r, i) => {
      for (const e of r.events) {
        const rv = e.split(':')[0]!;
        assert.ok(respOf.get(rv) === undefined || respOf.get(rv) === i, `revision ${rv} split at cap ${cap}`);
        respOf.set(rv, i);
        assert.ok(Number(rv) <= r.rev, 'header revision below an event it carries');
      }
    });
  }
});
