// Differential property test: random sequences of KV operations go to tetcd and to etcd 3.4; every
// response (or error code and message) must match, ignoring only member/cluster IDs and raft terms.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Client, GrpcError } from './helpers/client.ts';
import { messageType, serviceType } from '../src/proto/index.ts';
import { haveEtcd, startServer, type ServerHandle } from './helpers/procs.ts';

const KEYS = ['a', 'b', 'c', 'ab', 'b/1', 'b/2'];
const VALUES = ['', 'x', 'y', 'zz'];

type Op =
  | { kind: 'put'; key: string; value: string; prevKv: boolean }
  | {
      kind: 'range';
      key: string;
      end: 'none' | 'prefix' | 'all';
      limit: number;
      sortOrder: number;
      sortTarget: number;
      revBack: number;
      keysOnly: boolean;
      countOnly: boolean;
    }
  | { kind: 'del'; key: string; end: 'none' | 'prefix'; prevKv: boolean }
  | {
      kind: 'txn';
      cmpKey: string;
      target: number;
      result: number;
      cmpValue: string;
      cmpNum: number;
      success: Op[];
      failure: Op[];
    }
  | { kind: 'compact'; revBack: number };

const key = fc.constantFrom(...KEYS);
const value = fc.constantFrom(...VALUES);
const put = fc.record({ kind: fc.constant('put' as const), key, value, prevKv: fc.boolean() });
const range = fc.record({
  kind: fc.constant('range' as const),
  key,
  end: fc.constantFrom('none' as const, 'prefix' as const, 'all' as const),
  limit: fc.integer({ min: 0, max: 3 }),
  sortOrder: fc.integer({ min: 0, max: 2 }),
  sortTarget: fc.integer({ min: 0, max: 4 }),
  revBack: fc.integer({ min: -1, max: 4 }),
  keysOnly: fc.boolean(),
  countOnly: fc.boolean(),
});
const del = fc.record({
  kind: fc.constant('del' as const),
  key,
  end: fc.constantFrom('none' as const, 'prefix' as const),
  prevKv: fc.boolean(),
});
const simpleOp = fc.oneof(put, range, del);
const txn = fc.record({
  kind: fc.constant('txn' as const),
  cmpKey: key,
  target: fc.integer({ min: 0, max: 3 }),
  result: fc.integer({ min: 0, max: 3 }),
  cmpValue: value,
  cmpNum: fc.integer({ min: 0, max: 12 }),
  success: fc.array(simpleOp, { maxLength: 3 }),
  failure: fc.array(simpleOp, { maxLength: 3 }),
});
const compact = fc.record({ kind: fc.constant('compact' as const), revBack: fc.integer({ min: 0, max: 6 }) });
const anyOp: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: put },
  { weight: 4, arbitrary: range },
  { weight: 2, arbitrary: del },
  { weight: 3, arbitrary: txn },
  { weight: 1, arbitrary: compact },
);

const prefixEnd = (k: string) =>
  Buffer.from(k.slice(0, -1) + String.fromCharCode(k.charCodeAt(k.length - 1) + 1));

function rangeReq(o: Extract<Op, { kind: 'range' }>, rev: number) {
  return {
    key: Buffer.from(o.key),
    ...(o.end === 'prefix'
      ? { rangeEnd: prefixEnd(o.key) }
      : o.end === 'all'
        ? { rangeEnd: Buffer.from([0]) }
        : {}),
    limit: o.limit,
    sortOrder: o.sortOrder,
    sortTarget: o.sortTarget,
    revision: o.revBack < 0 ? rev + 3 : o.revBack === 0 ? 0 : Math.max(1, rev - o.revBack),
    keysOnly: o.keysOnly,
    countOnly: o.countOnly,
  };
}

function requestOp(o: Op, rev: number): object {
  switch (o.kind) {
    case 'put':
      return { requestPut: { key: Buffer.from(o.key), value: Buffer.from(o.value), prevKv: o.prevKv } };
    case 'range':
      return { requestRange: rangeReq(o, rev) };
    case 'del':
      return {
        requestDeleteRange: {
          key: Buffer.from(o.key),
          ...(o.end === 'prefix' ? { rangeEnd: prefixEnd(o.key) } : {}),
          prevKv: o.prevKv,
        },
      };
    default:
      throw new Error('not a simple op');
  }
}

function call(c: Client, o: Op, rev: number): Promise<Record<string, unknown>> {
  switch (o.kind) {
    case 'put':
    case 'del':
    case 'range': {
      const method = o.kind === 'put' ? 'Put' : o.kind === 'del' ? 'DeleteRange' : 'Range';
      const body = Object.values(requestOp(o, rev))[0] as object;
      return c.call('etcdserverpb.KV', method, body);
    }
    case 'txn': {
      const cmpField = ['version', 'createRevision', 'modRevision', 'value'][o.target]!;
      const cmp = {
        key: Buffer.from(o.cmpKey),
        target: o.target,
        result: o.result,
        [cmpField]: o.target === 3 ? Buffer.from(o.cmpValue) : o.cmpNum,
      };
      return c.txn({
        compare: [cmp],
        success: o.success.map((s) => requestOp(s, rev)),
        failure: o.failure.map((s) => requestOp(s, rev)),
      });
    }
    case 'compact':
      return c.compact(Math.max(1, rev - o.revBack), true);
  }
}

/** A response as comparable JSON: IDs and terms dropped, int64 as strings, bytes as base64. */
function canon(method: string, resp: Record<string, unknown>): unknown {
  const t = messageType(
    serviceType('etcdserverpb.KV').methods[method]!.resolvedResponseType!.fullName.slice(1),
  );
  const o = t.toObject(t.fromObject(resp), { longs: String, bytes: String, defaults: true }) as Record<
    string,
    any
  >;
  const strip = (x: any): any => {
    if (Array.isArray(x)) return x.map(strip);
    if (x && typeof x === 'object') {
      const out: Record<string, any> = {};
      for (const [k, v] of Object.entries(x))
        if (!['clusterId', 'memberId', 'raftTerm'].includes(k)) out[k] = strip(v);
      return out;
    }
    return x;
  };
  return strip(o);
}

const methodOf = (o: Op) =>
  ({ put: 'Put', range: 'Range', del: 'DeleteRange', txn: 'Txn', compact: 'Compact' })[o.kind];

async function outcome(c: Client, o: Op, rev: number): Promise<unknown> {
  try {
    return { ok: canon(methodOf(o), await call(c, o, rev)) };
  } catch (e) {
    if (e instanceof GrpcError) return { code: e.code, details: e.details };
    throw e;
  }
}

describe('differential: random KV operations against tetcd and etcd 3.4', { skip: !haveEtcd() }, () => {
  let tetcd: ServerHandle;
  let etcd: ServerHandle;
  let ct: Client;
  let ce: Client;
  before(async () => {
    [tetcd, etcd] = await Promise.all([startServer('tetcd'), startServer('etcd')]);
    ct = new Client(tetcd.endpoint);
    ce = new Client(etcd.endpoint);
  });
  after(async () => {
    ct?.close();
    ce?.close();
    await Promise.all([tetcd?.destroy(), etcd?.destroy()]);
  });

  test('every response matches', async () => {
    let rev = 1;
    let steps = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(anyOp, { minLength: 1, maxLength: 12 }), async (ops) => {
        // Both servers see exactly the same sequence, so their revisions stay equal.
        for (const o of ops) {
          const [a, b] = await Promise.all([outcome(ce, o, rev), outcome(ct, o, rev)]);
          assert.deepEqual(b, a, `op ${JSON.stringify(o)}`);
          steps++;
          const r = (a as { ok?: { header?: { revision?: string } } }).ok?.header?.revision;
          if (r) rev = Math.max(rev, Number(r));
        }
      }),
      { numRuns: 200, seed: Number(process.env['TETCD_SEED'] ?? 424242), endOnFailure: true },
    );
    assert.ok(steps > 100, `only ${steps} operations compared`);
  });
});
