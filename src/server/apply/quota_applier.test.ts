import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { PutRequest, RequestOp, TxnRequest } from '../../proto/etcdserverpb.ts';
import { ErrCorrupt, ErrNoSpace } from '../errors.ts';
import type { Applier } from './applier.ts';
import { AlarmChains, CappedApplier, CorruptApplier, QuotaApplier } from './quota_applier.ts';

function put(key: string, valueBytes = 1): PutRequest {
  return {
    key: Buffer.from(key),
    value: Buffer.alloc(valueBytes),
    lease: 0,
    prevKv: false,
    ignoreValue: false,
    ignoreLease: false,
  };
}
const putOp = (key: string): RequestOp => ({ requestPut: put(key) });
const delOp = (key: string): RequestOp => ({
  requestDeleteRange: { key: Buffer.from(key), rangeEnd: Buffer.alloc(0), prevKv: false },
});
const txn = (...success: RequestOp[]): TxnRequest => ({ compare: [], success, failure: [] });

/** An applier that records every call it gets. */
function recorder() {
  const calls: string[] = [];
  const rec = (name: string) => () => {
    calls.push(name);
    return { header: { revision: 1 } } as never;
  };
  const a: Applier = {
    put: rec('put'),
    deleteRange: rec('deleteRange'),
    txn: rec('txn'),
    compaction: rec('compaction'),
    leaseGrant: rec('leaseGrant'),
    leaseRevoke: rec('leaseRevoke'),
    leaseCheckpoint: rec('leaseCheckpoint'),
    alarm: rec('alarm'),
  };
  return { a, calls };
}

const LEASE = { TTL: 10, ID: 1 };

test('the quota layer applies a request that does not fit, then answers ErrNoSpace (etcd quotaApplierV3)', () => {
  const { a, calls } = recorder();
  let fits = true;
  const q = new QuotaApplier(a, { available: () => fits });
  q.put(put('a'));
  fits = false;
  assert.throws(() => q.put(put('b')), ErrNoSpace);
  assert.throws(() => q.txn(txn(putOp('c'))), ErrNoSpace);
  assert.throws(() => q.leaseGrant(LEASE), ErrNoSpace);
  q.deleteRange({ key: Buffer.from('a'), rangeEnd: Buffer.alloc(0), prevKv: false });
  q.compaction({ revision: 1, physical: false });
  assert.deepEqual(
    calls,
    ['put', 'put', 'txn', 'leaseGrant', 'deleteRange', 'compaction'],
    'every member applies the same log: the write is done, only the answer is the error',
  );
});

test('the quota layer asks with the request cost: nothing for a txn of deletes', () => {
  const { a } = recorder();
  const asked: number[] = [];
  const q = new QuotaApplier(a, {
    available: (c) => {
      asked.push(c);
      return c === 0;
    },
  });
  q.txn(txn(delOp('a')));
  assert.throws(() => q.put(put('ab', 10)), ErrNoSpace);
  assert.deepEqual(asked, [0, 256 + 2 + 10]);
});

test('NOSPACE raised: puts, txns with puts and lease grants are refused and still record their index', () => {
  const { a, calls } = recorder();
  let skipped = 0;
  const c = new CappedApplier(a, () => skipped++);
  assert.throws(() => c.put(), ErrNoSpace);
  assert.throws(() => c.txn(txn(delOp('x'), putOp('y'))), ErrNoSpace);
  assert.throws(() => c.leaseGrant(), ErrNoSpace);
  assert.equal(skipped, 3, 'the applied index moves past a refused entry');
  c.txn(txn(delOp('x')));
  c.deleteRange({ key: Buffer.from('a'), rangeEnd: Buffer.alloc(0), prevKv: false });
  c.compaction({ revision: 1, physical: false });
  c.leaseRevoke({ ID: 1 });
  c.leaseCheckpoint({ checkpoints: [] });
  c.alarm({ action: 2, memberID: 1, alarm: 1 });
  assert.deepEqual(calls, ['txn', 'deleteRange', 'compaction', 'leaseRevoke', 'leaseCheckpoint', 'alarm']);
});

test('CORRUPT raised: every write is refused with "etcdserver: corrupt cluster"; checkpoints and alarms go on', () => {
  const { a, calls } = recorder();
  let skipped = 0;
  const c = new CorruptApplier(a, () => skipped++);
  for (const f of [
    () => c.put(),
    () => c.deleteRange(),
    () => c.txn(),
    () => c.compaction(),
    () => c.leaseGrant(),
    () => c.leaseRevoke(),
  ]) {
    assert.throws(f, (e: unknown) => e instanceof ErrCorrupt && e.message === 'etcdserver: corrupt cluster');
  }
  assert.equal(skipped, 6);
  c.leaseCheckpoint({ checkpoints: [] });
  c.alarm({ action: 2, memberID: 1, alarm: 2 });
  assert.deepEqual(calls, ['leaseCheckpoint', 'alarm']);
});

test('the alarms raised choose the chain: quota alone, capped, corrupt, both', () => {
  const { a, calls } = recorder();
  const chains = new AlarmChains(a, { available: () => true }, () => undefined);
  chains.chainFor(false, false).put(put('a'));
  assert.throws(() => chains.chainFor(true, false).put(put('b')), ErrNoSpace);
  chains
    .chainFor(true, false)
    .deleteRange({ key: Buffer.from('a'), rangeEnd: Buffer.alloc(0), prevKv: false });
  assert.throws(
    () =>
      chains
        .chainFor(false, true)
        .deleteRange({ key: Buffer.from('a'), rangeEnd: Buffer.alloc(0), prevKv: false }),
    ErrCorrupt,
  );
  assert.throws(() => chains.chainFor(true, true).put(put('c')), ErrCorrupt, 'CORRUPT is the outer layer');
  assert.equal(chains.chainFor(true, false), chains.chainFor(true, false), 'built once, swapped');
  assert.deepEqual(calls, ['put', 'deleteRange']);
});
