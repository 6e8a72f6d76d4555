import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkPutRequest, checkRangeRequest, checkTxnRequest } from './validate.ts';
import { messageType } from '../../proto/index.ts';
import type { PutRequest, RangeRequest, TxnRequest } from '../../proto/etcdserverpb.ts';

const Txn = messageType('etcdserverpb.TxnRequest');
const txn = (o: object) => Txn.decode(Txn.encode(Txn.fromObject(o)).finish()) as unknown as TxnRequest;
const b = (s: string) => Buffer.from(s).toString('base64');
const put = (k: string) => ({ requestPut: { key: b(k), value: b('v') } });
const del = (k: string, end?: string) => ({
  requestDeleteRange: { key: b(k), ...(end ? { rangeEnd: b(end) } : {}) },
});

test('two puts of one key in a branch are a duplicate key', () => {
  assert.throws(() => checkTxnRequest(txn({ success: [put('a'), put('a')] }), 128), {
    message: 'etcdserver: duplicate key given in txn request',
  });
});

test('a put inside a deleted range is a duplicate key; outside it is fine', () => {
  assert.throws(() => checkTxnRequest(txn({ success: [del('a', 'c'), put('b')] }), 128), /duplicate key/);
  checkTxnRequest(txn({ success: [del('a', 'c'), put('c')] }), 128);
});

test('puts in the two branches of a nested txn may coincide, but not with the outer puts', () => {
  checkTxnRequest(txn({ success: [{ requestTxn: { success: [put('x')], failure: [put('x')] } }] }), 128);
  assert.throws(
    () => checkTxnRequest(txn({ success: [put('x'), { requestTxn: { success: [put('x')] } }] }), 128),
    /duplicate key/,
  );
});

test('the same key in success and failure of one txn is fine', () => {
  checkTxnRequest(txn({ success: [put('a')], failure: [put('a')] }), 128);
});

test('too many ops in any list is refused', () => {
  const ops = Array.from({ length: 4 }, (_, i) => put(`k${i}`));
  assert.throws(() => checkTxnRequest(txn({ success: ops }), 3), {
    message: 'etcdserver: too many operations in txn request',
  });
  checkTxnRequest(txn({ success: ops }), 4);
});

test('empty keys are refused in compares and ops', () => {
  assert.throws(() => checkTxnRequest(txn({ compare: [{ key: '' }] }), 128), /key is not provided/);
  assert.throws(() => checkTxnRequest(txn({ success: [put('')] }), 128), /key is not provided/);
});

test('put checks value/lease with ignore flags', () => {
  const p = (o: Partial<PutRequest>) =>
    ({
      key: Buffer.from('k'),
      value: Buffer.alloc(0),
      lease: 0,
      prevKv: false,
      ignoreValue: false,
      ignoreLease: false,
      ...o,
    }) as PutRequest;
  assert.throws(
    () => checkPutRequest(p({ ignoreValue: true, value: Buffer.from('x') })),
    /value is provided/,
  );
  assert.throws(() => checkPutRequest(p({ ignoreLease: true, lease: 5 })), /lease is provided/);
  checkPutRequest(p({ ignoreValue: true, ignoreLease: true }));
});

test('an out-of-range sort enum is an invalid sort option', () => {
  const Range = messageType('etcdserverpb.RangeRequest');
  const r = Range.decode(
    Range.encode({ key: Buffer.from('a'), sortOrder: 7 }).finish(),
  ) as unknown as RangeRequest;
  assert.throws(() => checkRangeRequest(r), { message: 'etcdserver: invalid sort option' });
});
