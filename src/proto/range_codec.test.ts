import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import Long from 'long';
import { messageType } from './index.ts';
import { encodeRangeResponse, type RangeResponseOut } from './range_codec.ts';

const RangeResponse = messageType('etcdserverpb.RangeResponse');

const rev = fc.oneof(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }));
const bytes = (max: number) => fc.uint8Array({ maxLength: max }).map((a) => Buffer.from(a));
const kv = fc.record(
  {
    key: bytes(40),
    createRevision: rev,
    modRevision: rev,
    version: rev,
    value: bytes(300),
    lease: fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n }).map((b) => Long.fromString(b.toString())),
  },
  { requiredKeys: ['key', 'createRevision', 'modRevision', 'version'] },
);
const response: fc.Arbitrary<RangeResponseOut> = fc.record(
  {
    header: fc.record({
      clusterId: fc
        .bigInt({ min: 0n, max: (1n << 64n) - 1n })
        .map((b) => Long.fromString(b.toString(), true)),
      memberId: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }).map((b) => Long.fromString(b.toString(), true)),
      revision: rev,
      raftTerm: rev,
    }),
    kvs: fc.array(kv, { maxLength: 20 }),
    more: fc.boolean(),
    count: rev,
  },
  { requiredKeys: ['kvs'] },
);

test('a RangeResponse encodes byte for byte as protobufjs encodes it', () => {
  fc.assert(
    fc.property(response, (r) => {
      const want = Buffer.from(RangeResponse.encode(r).finish());
      assert.deepEqual(encodeRangeResponse(r), want);
    }),
    { numRuns: 2000, seed: 42 },
  );
});

test('an empty value and a keys-only KeyValue keep protobufjs layout', () => {
  const r: RangeResponseOut = {
    header: { revision: 5 },
    kvs: [
      { key: Buffer.from('a'), createRevision: 2, modRevision: 3, version: 1, value: Buffer.alloc(0) },
      { key: Buffer.from('b'), createRevision: 4, modRevision: 4, version: 1 },
    ],
    more: false,
    count: 2,
  };
  assert.deepEqual(encodeRangeResponse(r), Buffer.from(RangeResponse.encode(r).finish()));
});
