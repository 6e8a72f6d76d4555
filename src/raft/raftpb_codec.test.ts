import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import protobuf from 'protobufjs';
import { fromBigInt, toBigInt, type Long } from '../proto/index.ts';
import {
  ConfChangeTransition,
  ConfChangeType,
  EntryType,
  MessageType,
  type ConfChange,
  type ConfChangeV2,
} from './raftpb.ts';
import {
  ProtoDecodeError,
  decodeConfChange,
  decodeConfChangeV2,
  encodeConfChange,
  encodeConfChangeV2,
  marshalConfChange,
  unmarshalConfChange,
} from './raftpb_codec.ts';

const root = new protobuf.Root();
root.loadSync(fileURLToPath(new URL('../../proto/raftpb/raft.proto', import.meta.url)), { keepCase: false });
root.resolveAll();
const PbConfChange = root.lookupType('raftpb.ConfChange');
const PbConfChangeV2 = root.lookupType('raftpb.ConfChangeV2');

const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
const ccType = fc.constantFrom(0, 1, 2, 3) as fc.Arbitrary<ConfChangeType>;
const bytes = fc.uint8Array({ maxLength: 20 });
// fc.record builds null-prototype objects; spread them so deepStrictEqual compares values only.
const confChange: fc.Arbitrary<ConfChange> = fc
  .record({ type: ccType, nodeId: u64, context: bytes, id: u64 })
  .map((r) => ({ ...r }));
const confChangeV2: fc.Arbitrary<ConfChangeV2> = fc
  .record({
    transition: fc.constantFrom(0, 1, 2) as fc.Arbitrary<ConfChangeTransition>,
    changes: fc.array(
      fc.record({ type: ccType, nodeId: u64 }).map((r) => ({ ...r })),
      { maxLength: 5 },
    ),
    context: bytes,
  })
  .map((r) => ({ ...r }));

// The same message through protobufjs: every field set except an empty context (what our encoder writes).
function pbjsConfChange(cc: ConfChange): Uint8Array {
  const o: Record<string, unknown> = {
    id: fromBigInt(cc.id, true),
    type: cc.type,
    nodeId: fromBigInt(cc.nodeId, true),
  };
  if (cc.context.length > 0) o['context'] = cc.context;
  return PbConfChange.encode(PbConfChange.fromObject(o)).finish();
}

function pbjsConfChangeV2(cc: ConfChangeV2): Uint8Array {
  const o: Record<string, unknown> = {
    transition: cc.transition,
    changes: cc.changes.map((c) => ({ type: c.type, nodeId: fromBigInt(c.nodeId, true) })),
  };
  if (cc.context.length > 0) o['context'] = cc.context;
  return PbConfChangeV2.encode(PbConfChangeV2.fromObject(o)).finish();
}

const sameBytes = (a: Uint8Array, b: Uint8Array) => assert.deepEqual([...a], [...b]);

test('ConfChange: round trip and byte equality with protobufjs, incl. IDs above 2^53', () => {
  const big: ConfChange = {
    type: ConfChangeType.ConfChangeAddLearnerNode,
    nodeId: 0xfedc_ba98_7654_3210n,
    context: new Uint8Array([1, 2, 3]),
    id: (1n << 64n) - 1n,
  };
  assert.deepEqual(decodeConfChange(encodeConfChange(big)), big);
  sameBytes(encodeConfChange(big), pbjsConfChange(big));
  fc.assert(
    fc.property(confChange, (cc) => {
      const enc = encodeConfChange(cc);
      assert.deepEqual(decodeConfChange(enc), cc);
      sameBytes(enc, pbjsConfChange(cc));
    }),
    { numRuns: 200, seed: 1 },
  );
});

test('ConfChangeV2: round trip and byte equality with protobufjs', () => {
  fc.assert(
    fc.property(confChangeV2, (cc) => {
      const enc = encodeConfChangeV2(cc);
      assert.deepEqual(decodeConfChangeV2(enc), cc);
      sameBytes(enc, pbjsConfChangeV2(cc));
    }),
    { numRuns: 200, seed: 2 },
  );
});

test('protobufjs decodes our bytes to the same values (uint64 intact)', () => {
  const cc: ConfChangeV2 = {
    transition: ConfChangeTransition.ConfChangeTransitionJointExplicit,
    changes: [
      { type: ConfChangeType.ConfChangeAddNode, nodeId: 0x8000_0000_0000_0001n },
      { type: ConfChangeType.ConfChangeRemoveNode, nodeId: 3n },
    ],
    context: new TextEncoder().encode('ctx'),
  };
  const m = PbConfChangeV2.toObject(PbConfChangeV2.decode(encodeConfChangeV2(cc))) as {
    transition: number;
    changes: { type: number; nodeId: Long }[];
  };
  assert.equal(m.transition, 2);
  assert.deepEqual(
    m.changes.map((c) => [c.type, toBigInt(c.nodeId, true)]),
    [
      [0, 0x8000_0000_0000_0001n],
      [1, 3n],
    ],
  );
});

test('decoding: empty input is the zero value; unknown fields are skipped; field order does not matter', () => {
  assert.deepEqual(decodeConfChangeV2(new Uint8Array(0)), {
    transition: ConfChangeTransition.ConfChangeTransitionAuto,
    changes: [],
    context: new Uint8Array(0),
  });
  // node_id=7 first, then an unknown varint field 9, an unknown fixed32 field 10, then type=1.
  const buf = new Uint8Array([0x18, 7, 0x48, 0x96, 0x01, 0x55, 1, 2, 3, 4, 0x10, 1]);
  const cc = decodeConfChange(buf);
  assert.equal(cc.nodeId, 7n);
  assert.equal(cc.type, ConfChangeType.ConfChangeRemoveNode);
  assert.equal(cc.id, 0n);
});

test('decoding: truncated or malformed input throws ProtoDecodeError', () => {
  const enc = encodeConfChange({
    type: 0,
    nodeId: 1n << 60n,
    context: new Uint8Array([9, 9, 9]),
    id: 5n,
  });
  // Layout: [08 05] [10 00] [18 + 9-byte varint] [22 03 09 09 09]; cuts between fields are valid messages.
  assert.equal(enc.length, 19);
  for (let n = 1; n < enc.length; n++) {
    if (n === 2 || n === 4 || n === 14) continue;
    assert.throws(() => decodeConfChange(enc.subarray(0, n)), ProtoDecodeError, `prefix ${n}`);
  }
  assert.throws(() => decodeConfChange(new Uint8Array([0x11, 0])), ProtoDecodeError); // field 2 as fixed64
  assert.throws(() => decodeConfChange(new Uint8Array([0x0b])), ProtoDecodeError); // group start
});

test('marshalConfChange keeps v1 as EntryConfChange and v2 as EntryConfChangeV2', () => {
  const v1: ConfChange = { type: 0, nodeId: 2n, context: new Uint8Array(0), id: 0n };
  const m1 = marshalConfChange(v1);
  assert.equal(m1.type, EntryType.EntryConfChange);
  assert.deepEqual(unmarshalConfChange(m1.type, m1.data), v1);
  const v2: ConfChangeV2 = { transition: 0, changes: [], context: new Uint8Array(0) };
  const m2 = marshalConfChange(v2);
  assert.equal(m2.type, EntryType.EntryConfChangeV2);
  assert.deepEqual([...m2.data], [0x08, 0x00]);
  assert.throws(() => unmarshalConfChange(EntryType.EntryNormal, m2.data), ProtoDecodeError);
});

test('the .proto enums match raftpb.ts', () => {
  const pbMsg = root.lookupEnum('raftpb.MessageType').values;
  for (const [name, v] of Object.entries(MessageType)) {
    if (typeof v === 'number') assert.equal(pbMsg[name], v, name);
  }
  assert.equal(Object.keys(pbMsg).length, Object.keys(MessageType).length / 2);
  const pairs: [string, Record<string, string | number>][] = [
    ['raftpb.EntryType', EntryType],
    ['raftpb.ConfChangeType', ConfChangeType],
    ['raftpb.ConfChangeTransition', ConfChangeTransition],
  ];
  for (const [pbName, tsEnum] of pairs) {
    const values = root.lookupEnum(pbName).values;
    for (const [name, v] of Object.entries(tsEnum)) if (typeof v === 'number') assert.equal(values[name], v);
  }
});

test('etcd field numbers of the other messages', () => {
  const num = (t: string, f: string) => root.lookupType(`raftpb.${t}`).fields[f]?.id;
  assert.deepEqual(
    ['type', 'term', 'index', 'data'].map((f) => num('Entry', f)),
    [1, 2, 3, 4],
  );
  assert.deepEqual(
    [
      'type',
      'to',
      'from',
      'term',
      'logTerm',
      'index',
      'entries',
      'commit',
      'snapshot',
      'reject',
      'rejectHint',
      'context',
    ].map((f) => num('Message', f)),
    [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12],
  );
  assert.deepEqual(
    ['voters', 'learners', 'votersOutgoing', 'learnersNext', 'autoLeave'].map((f) => num('ConfState', f)),
    [1, 2, 3, 4, 5],
  );
  assert.deepEqual(
    ['confState', 'index', 'term'].map((f) => num('SnapshotMetadata', f)),
    [1, 2, 3],
  );
  assert.deepEqual(
    ['term', 'vote', 'commit'].map((f) => num('HardState', f)),
    [1, 2, 3],
  );
});
