// KV semantics and bad input over real gRPC against an in-process member.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import { GrpcError } from './helpers/client.ts';
import { toNumber } from '../src/proto/index.ts';
import { startInProcess, type InProcess } from './grpc_inprocess.ts';

const s = (b: Uint8Array) => Buffer.from(b).toString();

async function rejectsWith(p: Promise<unknown>, code: status, details: string | RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof GrpcError, `expected a gRPC error, got ${String(e)}`);
    assert.equal(e.code, code, `code for "${e.details}"`);
    if (typeof details === 'string') assert.equal(e.details, details);
    else assert.match(e.details, details);
    return true;
  });
}

describe('KV over gRPC', () => {
  let m: InProcess;
  before(async () => {
    m = await startInProcess({ maxRequestBytes: 64 * 1024, maxTxnOps: 8 });
  });
  after(async () => {
    await m.close();
  });

  test('put bumps the revision once per write and sets versions', async () => {
    const r1 = await m.client.put('a', '1');
    const r2 = await m.client.put('a', '2', { prevKv: true });
    assert.equal(toNumber(r2.header.revision), toNumber(r1.header.revision) + 1);
    assert.equal(s(r2.prevKv.value), '1');
    const g = await m.client.range('a');
    assert.equal(g.kvs.length, 1);
    assert.equal(toNumber(g.kvs[0].version), 2);
    assert.equal(toNumber(g.kvs[0].createRevision), toNumber(r1.header.revision));
    assert.equal(toNumber(g.kvs[0].modRevision), toNumber(r2.header.revision));
    assert.ok(g.header.clusterId.toString() !== '0' && g.header.memberId.toString() !== '0');
    assert.ok(toNumber(g.header.raftTerm) >= 1);
  });

  test('range with prefix, limit, sort and count', async () => {
    for (const k of ['p/c', 'p/a', 'p/b']) await m.client.put(k, `v-${k}`);
    const r = await m.client.range('p/', { rangeEnd: Buffer.from('p0'), limit: 2, sortOrder: 2 });
    assert.deepEqual(
      r.kvs.map((kv: { key: Uint8Array }) => s(kv.key)),
      ['p/c', 'p/b'],
    );
    assert.equal(r.more, true);
    assert.equal(toNumber(r.count), 3);
    const c = await m.client.range('p/', { rangeEnd: Buffer.from('p0'), countOnly: true });
    assert.equal(c.kvs.length, 0);
    assert.equal(toNumber(c.count), 3);
  });

  test('txn takes one branch at one revision', async () => {
    const before = toNumber((await m.client.range('a')).header.revision);
    const t = await m.client.txn({
      compare: [{ key: Buffer.from('a'), target: 3, result: 0, value: Buffer.from('2') }],
      success: [
        { requestPut: { key: Buffer.from('t1'), value: Buffer.from('x') } },
        { requestPut: { key: Buffer.from('t2'), value: Buffer.from('y') } },
        { requestRange: { key: Buffer.from('t1') } },
      ],
      failure: [{ requestPut: { key: Buffer.from('f'), value: Buffer.from('z') } }],
    });
    assert.equal(t.succeeded, true);
    assert.equal(toNumber(t.header.revision), before + 1);
    const rr = t.responses[2].responseRange;
    assert.equal(s(rr.kvs[0].value), 'x');
    assert.equal(toNumber((await m.client.range('f')).count), 0);
  });

  test('compaction makes older revisions unreadable, the compact revision stays readable', async () => {
    const r1 = await m.client.put('c', '1');
    const rev1 = toNumber(r1.header.revision);
    await m.client.put('c', '2');
    await m.client.compact(rev1, true);
    const old = await m.client.range('c', { revision: rev1 });
    assert.equal(s(old.kvs[0].value), '1');
    await rejectsWith(
      m.client.range('c', { revision: rev1 - 1 }),
      status.OUT_OF_RANGE,
      'etcdserver: mvcc: required revision has been compacted',
    );
    await rejectsWith(
      m.client.compact(rev1),
      status.OUT_OF_RANGE,
      'etcdserver: mvcc: required revision has been compacted',
    );
  });

  test('fields absent on the wire (as Go clients send empty values) are empty, not a crash', async () => {
    // PutRequest{key: "ev"} with no value field, and a txn whose put has no value.
    await m.client.call('etcdserverpb.KV', 'Put', Buffer.from([0x0a, 0x02, 0x65, 0x76]));
    const g = await m.client.range('ev');
    assert.equal(g.kvs[0].value.length, 0);
    const t = await m.client.txn({ success: [{ requestPut: { key: Buffer.from('ev2') } }] });
    assert.equal(t.succeeded, true);
    assert.equal(toNumber((await m.client.range('ev2')).count), 1);
  });

  test('bad input gets etcd errors, and the member keeps serving', async () => {
    await rejectsWith(m.client.put('', 'x'), status.INVALID_ARGUMENT, 'etcdserver: key is not provided');
    await rejectsWith(m.client.range(''), status.INVALID_ARGUMENT, 'etcdserver: key is not provided');
    await rejectsWith(
      m.client.range('a', { revision: '9223372036854775807' }),
      status.OUT_OF_RANGE,
      'etcdserver: mvcc: required revision is a future revision',
    );
    await rejectsWith(
      m.client.range('a', { revision: 9_000_000 }),
      status.OUT_OF_RANGE,
      'etcdserver: mvcc: required revision is a future revision',
    );
    await rejectsWith(
      m.client.range('a', { sortOrder: 9 }),
      status.INVALID_ARGUMENT,
      'etcdserver: invalid sort option',
    );
    await rejectsWith(
      m.client.put('big', Buffer.alloc(100 * 1024)),
      status.INVALID_ARGUMENT,
      'etcdserver: request is too large',
    );
    await rejectsWith(
      m.client.put('huge', Buffer.alloc(1024 * 1024)),
      status.RESOURCE_EXHAUSTED,
      /larger than max/,
    );
    const ops = Array.from({ length: 9 }, (_, i) => ({
      requestPut: { key: Buffer.from(`k${i}`), value: Buffer.from('v') },
    }));
    await rejectsWith(
      m.client.txn({ success: ops }),
      status.INVALID_ARGUMENT,
      'etcdserver: too many operations in txn request',
    );
    await rejectsWith(
      m.client.put('x', 'y', { lease: 12345 }),
      status.NOT_FOUND,
      'etcdserver: requested lease not found',
    );
    await rejectsWith(
      m.client.put('missing', '', { ignoreValue: true }),
      status.INVALID_ARGUMENT,
      'etcdserver: key not found',
    );
    // Malformed protobuf: a length-delimited field claiming more bytes than there are.
    await rejectsWith(
      m.client.call('etcdserverpb.KV', 'Put', Buffer.from([0x0a, 0x7f, 0x61])),
      status.INTERNAL,
      /error unmarshalling request/,
    );
    await rejectsWith(
      m.client.call('etcdserverpb.KV', 'Range', Buffer.from([0xff, 0xff, 0xff])),
      status.INTERNAL,
      /error unmarshalling request/,
    );
    const ok = await m.client.put('still-alive', 'yes');
    assert.ok(toNumber(ok.header.revision) > 0);
  });
});

describe('restart', () => {
  test('acknowledged writes and the revision survive a restart', async () => {
    const m = await startInProcess();
    let last = 0;
    await Promise.all(
      Array.from({ length: 50 }, async (_, i) => {
        const r = await m.client.put(`k${i}`, `v${i}`);
        last = Math.max(last, toNumber(r.header.revision));
      }),
    );
    const dataDir = m.dataDir;
    await m.close({ keepData: true });
    const m2 = await startInProcess({ dataDir });
    try {
      const all = await m2.client.range('k', { rangeEnd: Buffer.from('l') });
      assert.equal(toNumber(all.count), 50);
      assert.ok(toNumber(all.header.revision) >= last);
    } finally {
      await m2.close();
    }
  });
});
