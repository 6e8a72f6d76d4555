import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fromBigInt, messageType, toBigInt, toNumber, Long } from './index.ts';

test('int64 IDs above 2^53 survive an encode/decode round trip as bigint', () => {
  const T = messageType('etcdserverpb.LeaseGrantResponse');
  const id = 0x7ab1_2345_6789_abcdn;
  const buf = T.encode({ ID: fromBigInt(id), TTL: 5 }).finish();
  const back = T.decode(buf) as unknown as { ID: Long; TTL: Long };
  assert.equal(toBigInt(back.ID), id);
  assert.equal(toNumber(back.TTL), 5);
});

test('uint64 member IDs keep all 64 bits', () => {
  const T = messageType('etcdserverpb.Member');
  const id = 0xfedc_ba98_7654_3210n;
  const back = T.decode(T.encode({ ID: fromBigInt(id, true) }).finish()) as unknown as { ID: Long };
  assert.equal(toBigInt(back.ID, true), id);
});

test('toNumber refuses values past 2^53-1', () => {
  assert.equal(toNumber(Long.fromString('9007199254740991')), Number.MAX_SAFE_INTEGER);
  assert.throws(() => toNumber(Long.fromString('9007199254740992')), RangeError);
  assert.equal(toNumber(Long.fromNumber(-5)), -5);
});

test('negative int64 decodes to a negative bigint', () => {
  assert.equal(toBigInt(Long.fromNumber(-1)), -1n);
});
