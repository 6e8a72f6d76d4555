import { test } from 'node:test';
import assert from 'node:assert/strict';
import { messageType, toNumber } from '../proto/index.ts';
import { decodeRaftRequest, encodeRaftRequest, Op } from './raft_request.ts';
import type { PutRequest } from './txn/types.ts';

test('a spliced client request decodes back with its wait id', () => {
  const raw = messageType('etcdserverpb.PutRequest')
    .encode({ key: Buffer.from('k'), value: Buffer.from('v'), lease: 7 })
    .finish();
  const id = 0xfedc_ba98_7654_3210n;
  const d = decodeRaftRequest(encodeRaftRequest(id, Op.Put, raw));
  assert.equal(d.id, id);
  assert.equal(d.op, Op.Put);
  const p = d.req as PutRequest;
  assert.equal(Buffer.from(p.key).toString(), 'k');
  assert.equal(Buffer.from(p.value).toString(), 'v');
  assert.equal(toNumber(p.lease), 7);
});

test('an empty request body still names its operation', () => {
  const d = decodeRaftRequest(encodeRaftRequest(1n, Op.Compaction, new Uint8Array(0)));
  assert.equal(d.op, Op.Compaction);
});
