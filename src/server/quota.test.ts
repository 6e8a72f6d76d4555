import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import type { PutRequest, RequestOp } from '../proto/etcdserverpb.ts';
import { toBigInt } from '../proto/index.ts';
import { ErrNoSpace } from './errors.ts';
import { Op } from './raft_request.ts';
import {
  costLeaseGrant,
  costPut,
  costTxn,
  DEFAULT_QUOTA_BYTES,
  humanizeBytes,
  logQuota,
  MAX_QUOTA_BYTES,
  Quota,
  QuotaGate,
  quotaBytes,
} from './quota.ts';

function put(key: string, valueBytes: number): PutRequest {
  return {
    key: Buffer.from(key),
    value: Buffer.alloc(valueBytes),
    lease: 0,
    prevKv: false,
    ignoreValue: false,
    ignoreLease: false,
  };
}

const putOp = (key: string, n: number): RequestOp => ({ requestPut: put(key, n) });
const delOp = (key: string): RequestOp => ({
  requestDeleteRange: { key: Buffer.from(key), rangeEnd: Buffer.alloc(0), prevKv: false },
});

test('a put costs 256 + key + value bytes; a txn its costlier branch; a lease grant 64 (etcd quota.go)', () => {
  assert.equal(costPut(put('abc', 1000)), 256 + 3 + 1000);
  const txn = {
    compare: [],
    success: [putOp('a', 10), putOp('b', 20), delOp('c')],
    failure: [putOp('x', 100)],
  };
  assert.equal(costTxn(txn), Math.max(256 + 1 + 10 + 256 + 1 + 20, 256 + 1 + 100));
  assert.equal(costTxn({ compare: [], success: [delOp('a')], failure: [] }), 0, 'deletes cost nothing');
  const nested = {
    compare: [],
    success: [{ requestTxn: { compare: [], success: [putOp('n', 5)], failure: [] } }],
    failure: [],
  };
  assert.equal(costTxn(nested), 0, "a nested txn's puts are not counted, as in etcd 3.4");
  assert.equal(costLeaseGrant(), 64);
});

test('the quota in force: 0 or unset is the 2 GiB default, above 8 GiB is taken as given, < 0 disables', () => {
  assert.equal(quotaBytes(undefined), DEFAULT_QUOTA_BYTES);
  assert.equal(quotaBytes(0), 2147483648);
  assert.equal(quotaBytes(1000), 1000);
  assert.equal(quotaBytes(MAX_QUOTA_BYTES * 2), 17179869184);
  assert.equal(quotaBytes(-1), -1);
  const off = new Quota({ bytes: -1, size: () => 1e12, now: () => 0 });
  assert.equal(off.enabled, false);
  assert.equal(off.available(1e9), true, 'a negative quota lets everything through');
  assert.equal(off.remaining(), 1, "etcd's passthroughQuota answers 1");
});

test('available: size + cost must stay strictly under the quota; a request costing nothing always fits', () => {
  let size = 700;
  const q = new Quota({ bytes: 1000, size: () => size, now: () => 0, refreshMs: 0 });
  assert.equal(q.available(299), true);
  assert.equal(q.available(300), false, '700 + 300 is not < 1000');
  size = 5000;
  assert.equal(q.available(0), true, 'deletes and reads are never refused');
  assert.equal(q.available(1), false);
  assert.equal(q.remaining(), -4000);
});

test('the size is read at most once per refresh period of the injected clock', () => {
  let now = 0;
  let reads = 0;
  let size = 100;
  const q = new Quota({
    bytes: 1000,
    size: () => {
      reads++;
      return size;
    },
    now: () => now,
    refreshMs: 50,
  });
  assert.equal(q.available(10), true);
  size = 990;
  now = 49;
  assert.equal(q.available(10), true, 'still the size read at 0');
  assert.equal(reads, 1);
  now = 50;
  assert.equal(q.available(10), false, 'read again after 50 ms');
  assert.equal(reads, 2);
});

test('sizes are logged as go-humanize prints them', () => {
  assert.equal(humanizeBytes(2147483648), '2.1 GB');
  assert.equal(humanizeBytes(8589934592), '8.6 GB');
  assert.equal(humanizeBytes(300000), '300 kB');
  assert.equal(humanizeBytes(1234), '1.2 kB');
  assert.equal(humanizeBytes(5), '5 B');
});

test("start-up lines: etcd's messages for the default, a given, a too large and a negative quota", () => {
  const lines: { level: number; msg: string; [k: string]: unknown }[] = [];
  const log = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s)) });
  logQuota(log, undefined);
  logQuota(log, 300000);
  logQuota(log, 10 * 1024 ** 3);
  logQuota(log, -5);
  assert.deepEqual(
    lines.map((l) => [l.msg, l['quota-size-bytes'], l['quota-size']]),
    [
      ['enabled backend quota with default value', 2147483648, '2.1 GB'],
      ['enabled backend quota', 300000, '300 kB'],
      ['quota exceeds the maximum value', 10737418240, '11 GB'],
      ['enabled backend quota', 10737418240, '11 GB'],
      ['disabled backend quota', -5, undefined],
    ],
  );
  assert.equal(lines[2]!.level, 40, 'a quota above 8 GiB is a warning');
  assert.equal(lines[2]!['quota-maximum-size-bytes'], MAX_QUOTA_BYTES);
});

test('the gate lets a fitting request through; otherwise it raises NOSPACE for this member, then refuses', async () => {
  let size = 0;
  const q = new Quota({ bytes: 1000, size: () => size, now: () => 0, refreshMs: 0 });
  const proposed: { op: Op; req: { action: number; memberID: never; alarm: number } }[] = [];
  let settle: (() => void) | undefined;
  const proposer = {
    propose(op: Op, _raw: Uint8Array, req: unknown) {
      proposed.push({ op, req: req as never });
      return new Promise<unknown>((_r, reject) => (settle = () => reject(new Error('lost'))));
    },
  };
  const gate = new QuotaGate(q, proposer, 0xabcn);
  assert.equal(gate.check(500), undefined);
  size = 600;
  const refused = gate.check(500);
  assert.ok(refused);
  let outcome = 'pending';
  refused.catch((e: unknown) => (outcome = (e as Error).constructor.name));
  await new Promise((r) => setImmediate(r));
  assert.equal(outcome, 'pending', 'the answer waits for the alarm proposal, as etcd waits for s.Alarm');
  assert.equal(proposed.length, 1);
  assert.equal(proposed[0]!.op, Op.Alarm);
  assert.equal(proposed[0]!.req.action, 1, 'ACTIVATE');
  assert.equal(proposed[0]!.req.alarm, 1, 'NOSPACE');
  assert.equal(toBigInt(proposed[0]!.req.memberID, true), 0xabcn);
  settle!();
  await assert.rejects(refused, ErrNoSpace, "refused with ErrNoSpace even when the alarm's proposal failed");
  assert.equal(outcome, 'ErrNoSpace');
});
