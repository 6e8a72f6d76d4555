import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Long, messageType, toBigInt, toNumber } from '../../proto/index.ts';
import type { WatchEvent, WatchKV } from '../../mvcc/watchable_store.ts';
import { HeaderCache, eventEntry, eventsResponse } from './watch_codec.ts';

const WatchResponse = messageType('etcdserverpb.WatchResponse');
type Any = Record<string, any>;

const kv = (key: string, rev: number, o: Partial<WatchKV> = {}): WatchKV => ({
  key: Buffer.from(key),
  createRevision: 2,
  modRevision: rev,
  version: 3,
  value: Buffer.from(`v${rev}`),
  lease: 0n,
  ...o,
});

const header = (revision: number) => ({
  clusterId: Long.fromString('18446744073709551615', true),
  memberId: Long.fromNumber(42, true),
  revision,
  raftTerm: 7,
});

function decode(b: Buffer): Any {
  return WatchResponse.decode(b) as unknown as Any;
}

test('a response of pre-encoded events decodes to the same fields protobufjs would give', () => {
  const put: WatchEvent = { type: 'PUT', kv: kv('a', 9, { lease: 0x7fff_ffff_ffffn }) };
  const del: WatchEvent = {
    type: 'DELETE',
    kv: kv('b', 9, { createRevision: 0, version: 0, value: Buffer.alloc(0) }),
    prevKv: kv('b', 5, { value: Buffer.from('old') }),
  };
  const h = new HeaderCache(header).get(9, 7);
  const r = decode(eventsResponse(h, 300, [eventEntry(put, true), eventEntry(del, true)], false));
  assert.equal(toNumber(r['header'].revision), 9);
  assert.equal(toBigInt(r['header'].clusterId, true), 2n ** 64n - 1n);
  assert.equal(toBigInt(r['header'].memberId, true), 42n);
  assert.equal(toNumber(r['header'].raftTerm), 7);
  assert.equal(toNumber(r['watchId']), 300);
  assert.equal(r['fragment'], false);
  const [e1, e2] = r['events'] as Any[];
  assert.equal(e1!['type'], 0);
  assert.equal(Buffer.from(e1!['kv'].key).toString(), 'a');
  assert.equal(toNumber(e1!['kv'].createRevision), 2);
  assert.equal(toNumber(e1!['kv'].modRevision), 9);
  assert.equal(toNumber(e1!['kv'].version), 3);
  assert.equal(Buffer.from(e1!['kv'].value).toString(), 'v9');
  assert.equal(toBigInt(e1!['kv'].lease), 0x7fff_ffff_ffffn);
  assert.equal(e1!['prevKv'], null, 'a put without prev_kv carries none');
  assert.equal(e2!['type'], 1);
  assert.equal(Buffer.from(e2!['kv'].key).toString(), 'b');
  assert.equal(toNumber(e2!['kv'].modRevision), 9);
  assert.equal(Buffer.from(e2!['kv'].value).length, 0, 'a tombstone has no value');
  assert.equal(Buffer.from(e2!['prevKv'].value).toString(), 'old');
  assert.equal(toNumber(e2!['prevKv'].modRevision), 5);
});

test('prev_kv is left out for a watcher that did not ask for it, even when the event has one', () => {
  const e: WatchEvent = { type: 'PUT', kv: kv('k', 3), prevKv: kv('k', 2) };
  const h = new HeaderCache(header).get(3, 1);
  const without = decode(eventsResponse(h, 1, [eventEntry(e, false)], false));
  const withPrev = decode(eventsResponse(h, 1, [eventEntry(e, true)], false));
  assert.equal((without['events'] as Any[])[0]!['prevKv'], null);
  assert.equal(toNumber((withPrev['events'] as Any[])[0]!['prevKv'].modRevision), 2);
});

test('an event is encoded once per prev_kv choice; the header once per revision and term', () => {
  const e: WatchEvent = { type: 'PUT', kv: kv('k', 3), prevKv: kv('k', 2) };
  assert.equal(eventEntry(e, false), eventEntry(e, false));
  assert.equal(eventEntry(e, true), eventEntry(e, true));
  assert.notEqual(eventEntry(e, true), eventEntry(e, false));
  let calls = 0;
  const hc = new HeaderCache((rev) => (calls++, header(rev)));
  const a = hc.get(5, 1);
  assert.equal(hc.get(5, 1), a);
  assert.notEqual(hc.get(5, 2), a, 'a new term makes a new header');
  hc.get(6, 2);
  assert.equal(calls, 3);
});

test('watch ID 0 and a fragment flag, and large revisions and values survive the trip', () => {
  const big = 2 ** 53 - 1;
  const e: WatchEvent = {
    type: 'PUT',
    kv: kv('x', big, { value: Buffer.alloc(70_000, 1), version: 2 ** 40 }),
  };
  const r = decode(eventsResponse(new HeaderCache(header).get(big, 1), 0, [eventEntry(e, false)], true));
  assert.equal(toNumber(r['watchId']), 0);
  assert.equal(r['fragment'], true);
  const ev = (r['events'] as Any[])[0]!;
  assert.equal(toNumber(ev['kv'].modRevision), big);
  assert.equal(toNumber(ev['kv'].version), 2 ** 40);
  assert.equal(Buffer.from(ev['kv'].value).length, 70_000);
  assert.equal(toNumber(r['header'].revision), big);
});

test('the prefixed form is the gRPC frame of the plain form', () => {
  const e: WatchEvent = { type: 'PUT', kv: kv('k', 3) };
  const h = new HeaderCache(header).get(3, 1);
  for (const fragment of [false, true]) {
    const plain = eventsResponse(h, 9, [eventEntry(e, false)], fragment);
    const framed = eventsResponse(h, 9, [eventEntry(e, false)], fragment, true);
    assert.deepEqual(framed.subarray(5), plain);
    assert.deepEqual([...framed.subarray(0, 5)], [0, 0, 0, 0, plain.length]);
  }
});
