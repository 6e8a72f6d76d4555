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
  message,
  type ConfChange,
  type ConfChangeV2,
  type ConfState,
  type Entry,
  type HardState,
  type Message,
  type Snapshot,
} from './raftpb.ts';
import {
  ProtoDecodeError,
  decodeConfChange,
  decodeConfChangeV2,
  decodeConfState,
  decodeEntry,
  decodeHardState,
  decodeMessage,
  decodeSnapshot,
  decodeSnapshotMetadata,
  encodeConfChange,
  encodeConfChangeV2,
  encodeConfState,
  encodeEntry,
  encodeHardState,
  encodeMessage,
  encodeMessageInto,
  encodeSnapshot,
  encodeSnapshotMetadata,
  messageSize,
  marshalConfChange,
  unmarshalConfChange,
} from './raftpb_codec.ts';

const root = new protobuf.Root();
root.loadSync(fileURLToPath(new URL('../../proto/raftpb/raft.proto', import.meta.url)), { keepCase: false });
root.resolveAll();
const PbConfChange = root.lookupType('raftpb.ConfChange');
const PbConfChangeV2 = root.lookupType('raftpb.ConfChangeV2');

const MAX_U64 = (1n << 64n) - 1n;
const u64 = fc.oneof(fc.bigInt({ min: 0n, max: 300n }), fc.bigInt({ min: 0n, max: MAX_U64 }));
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

// ---- raft messages (Entry, HardState, ConfState, SnapshotMetadata, Snapshot, Message) ----

const PbMessage = root.lookupType('raftpb.Message');
const PbEntry = root.lookupType('raftpb.Entry');
const PbHardState = root.lookupType('raftpb.HardState');
const PbConfState = root.lookupType('raftpb.ConfState');
const PbSnapshot = root.lookupType('raftpb.Snapshot');

const uint53 = fc.oneof(fc.nat({ max: 1000 }), fc.maxSafeNat());
const ids = fc.array(u64, { maxLength: 4 });
const entryArb: fc.Arbitrary<Entry> = fc
  .record({
    term: uint53,
    index: uint53,
    type: fc.constantFrom(0, 1, 2) as fc.Arbitrary<EntryType>,
    data: bytes,
  })
  .map((r) => ({ ...r }));
const confStateArb: fc.Arbitrary<ConfState> = fc
  .record({ voters: ids, learners: ids, votersOutgoing: ids, learnersNext: ids, autoLeave: fc.boolean() })
  .map((r) => ({ ...r }));
const snapshotArb: fc.Arbitrary<Snapshot> = fc
  .record({
    data: fc.uint8Array({ maxLength: 100 }),
    metadata: fc.record({ confState: confStateArb, index: uint53, term: uint53 }).map((r) => ({ ...r })),
  })
  .map((r) => ({ ...r }));
const messageArb: fc.Arbitrary<Message> = fc
  .record({
    type: fc.integer({ min: 0, max: 19 }) as fc.Arbitrary<MessageType>,
    to: u64,
    from: u64,
    term: uint53,
    logTerm: uint53,
    index: uint53,
    entries: fc.array(entryArb, { maxLength: 4 }),
    commit: uint53,
    snapshot: fc.option(snapshotArb, { nil: undefined }),
    reject: fc.boolean(),
    rejectHint: uint53,
    context: bytes,
  })
  .map(({ snapshot, ...r }) => (snapshot === undefined ? { ...r } : { ...r, snapshot }));

const u64s = (xs: bigint[]) => xs.map((x) => fromBigInt(x, true));
const pbEntry = (e: Entry) => ({
  type: e.type,
  term: e.term,
  index: e.index,
  ...(e.data.length > 0 ? { data: e.data } : {}),
});
const pbConfState = (cs: ConfState) => ({
  voters: u64s(cs.voters),
  learners: u64s(cs.learners),
  votersOutgoing: u64s(cs.votersOutgoing),
  learnersNext: u64s(cs.learnersNext),
  autoLeave: cs.autoLeave,
});
const pbSnapshot = (s: Snapshot) => ({
  ...(s.data.length > 0 ? { data: s.data } : {}),
  metadata: { confState: pbConfState(s.metadata.confState), index: s.metadata.index, term: s.metadata.term },
});
function pbjsMessage(m: Message): Uint8Array {
  const o = {
    type: m.type,
    to: fromBigInt(m.to, true),
    from: fromBigInt(m.from, true),
    term: m.term,
    logTerm: m.logTerm,
    index: m.index,
    entries: m.entries.map(pbEntry),
    commit: m.commit,
    ...(m.snapshot ? { snapshot: pbSnapshot(m.snapshot) } : {}),
    reject: m.reject,
    rejectHint: m.rejectHint,
    ...(m.context.length > 0 ? { context: m.context } : {}),
  };
  return PbMessage.encode(PbMessage.fromObject(o)).finish();
}

test('Message: round trip and byte equality with protobufjs (IDs up to 2^64-1, terms up to 2^53-1)', () => {
  fc.assert(
    fc.property(messageArb, (m) => {
      const enc = encodeMessage(m);
      assert.equal(enc.length, messageSize(m));
      assert.deepEqual(decodeMessage(enc), m);
      sameBytes(enc, pbjsMessage(m));
    }),
    { numRuns: 300, seed: 3 },
  );
});

test('Entry, HardState, ConfState, SnapshotMetadata, Snapshot: round trip and byte equality', () => {
  fc.assert(
    fc.property(entryArb, confStateArb, snapshotArb, u64, uint53, uint53, (e, cs, s, vote, term, commit) => {
      sameBytes(encodeEntry(e), PbEntry.encode(PbEntry.fromObject(pbEntry(e))).finish());
      assert.deepEqual(decodeEntry(encodeEntry(e)), e);
      sameBytes(encodeConfState(cs), PbConfState.encode(PbConfState.fromObject(pbConfState(cs))).finish());
      assert.deepEqual(decodeConfState(encodeConfState(cs)), cs);
      sameBytes(encodeSnapshot(s), PbSnapshot.encode(PbSnapshot.fromObject(pbSnapshot(s))).finish());
      assert.deepEqual(decodeSnapshot(encodeSnapshot(s)), s);
      assert.deepEqual(decodeSnapshotMetadata(encodeSnapshotMetadata(s.metadata)), s.metadata);
      const hs: HardState = { term, vote, commit };
      const pbHs = PbHardState.fromObject({ term, vote: fromBigInt(vote, true), commit });
      sameBytes(encodeHardState(hs), PbHardState.encode(pbHs).finish());
      assert.deepEqual(decodeHardState(encodeHardState(hs)), hs);
    }),
    { numRuns: 200, seed: 4 },
  );
});

test('protobufjs reads our Message with 64-bit IDs intact', () => {
  const m = message({
    type: MessageType.MsgApp,
    to: 0xffff_ffff_ffff_fffen,
    from: 0x8000_0000_0000_0000n,
    term: Number.MAX_SAFE_INTEGER,
    entries: [{ term: 3, index: 2 ** 40, type: EntryType.EntryNormal, data: new Uint8Array([7]) }],
  });
  const o = PbMessage.toObject(PbMessage.decode(encodeMessage(m))) as {
    to: Long;
    from: Long;
    term: Long;
    entries: { index: Long }[];
  };
  assert.equal(toBigInt(o.to, true), m.to);
  assert.equal(toBigInt(o.from, true), m.from);
  assert.equal(toBigInt(o.term, true), BigInt(Number.MAX_SAFE_INTEGER));
  assert.equal(toBigInt(o.entries[0]?.index, true), 2n ** 40n);
});

test('decoding refuses terms and indexes above 2^53-1 with a ProtoDecodeError naming the field', () => {
  const over = fromBigInt(1n << 53n, true);
  const cases: [protobuf.Type, Record<string, unknown>, (b: Uint8Array) => unknown, RegExp][] = [
    [PbMessage, { term: over }, decodeMessage, /Message\.term/],
    [PbMessage, { commit: fromBigInt(MAX_U64, true) }, decodeMessage, /Message\.commit/],
    [PbMessage, { entries: [{ index: over }] }, decodeMessage, /Entry\.index/],
    [PbHardState, { commit: over }, decodeHardState, /HardState\.commit/],
    [PbSnapshot, { metadata: { term: over } }, decodeSnapshot, /SnapshotMetadata\.term/],
  ];
  for (const [T, o, decode, re] of cases) {
    const buf = T.encode(T.fromObject(o)).finish();
    assert.throws(
      () => decode(buf),
      (e: unknown) => e instanceof ProtoDecodeError && re.test(e.message),
    );
  }
  // 2^53-1 itself is fine.
  const ok = PbHardState.encode(PbHardState.fromObject({ term: Number.MAX_SAFE_INTEGER })).finish();
  assert.equal(decodeHardState(ok).term, Number.MAX_SAFE_INTEGER);
});

test('decoding accepts packed repeated IDs and skips unknown fields in a Message', () => {
  // ConfState voters=[1, 2^63] packed: tag 0x0a, length, varints.
  const big = [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01];
  const cs = decodeConfState(new Uint8Array([0x0a, 11, 1, ...big, 0x28, 1]));
  assert.deepEqual(cs.voters, [1n, 1n << 63n]);
  assert.equal(cs.autoLeave, true);
  // Message: vote (13), an unknown length-delimited field 14 and an unknown fixed64 field 15, then type.
  const buf = new Uint8Array([0x68, 5, 0x72, 2, 9, 9, 0x79, 1, 2, 3, 4, 5, 6, 7, 8, 0x08, 8, 0x20, 4]);
  const m = decodeMessage(buf);
  assert.equal(m.type, MessageType.MsgHeartbeat);
  assert.equal(m.term, 4);
  assert.equal(m.snapshot, undefined);
});

test('encodeMessageInto writes at an offset and returns the end', () => {
  const m = message({ type: MessageType.MsgHeartbeat, to: 2n, from: 1n, term: 7, commit: 3 });
  const n = messageSize(m);
  const buf = new Uint8Array(5 + n + 3);
  assert.equal(encodeMessageInto(m, buf, 5), 5 + n);
  assert.deepEqual(decodeMessage(buf.subarray(5, 5 + n)), m);
  assert.throws(() => encodeMessage(message({ type: MessageType.MsgApp, term: -1 })), RangeError);
  assert.throws(() => encodeMessage(message({ type: MessageType.MsgApp, index: 1.5 })), RangeError);
  assert.throws(() => encodeMessage(message({ type: MessageType.MsgApp, to: 1n << 64n })), RangeError);
});

test('malformed input (truncations, bit flips, random bytes) only ever throws ProtoDecodeError', () => {
  const decoders = [decodeMessage, decodeEntry, decodeHardState, decodeConfState, decodeSnapshot];
  const onlyProtoErrors = (buf: Uint8Array) => {
    for (const d of decoders) {
      try {
        d(buf);
      } catch (e) {
        if (!(e instanceof ProtoDecodeError)) throw e;
      }
    }
  };
  fc.assert(
    fc.property(messageArb, fc.nat(), fc.nat(), fc.integer({ min: 1, max: 255 }), (m, cut, at, flip) => {
      const enc = encodeMessage(m);
      const truncated = enc.subarray(0, cut % (enc.length + 1));
      onlyProtoErrors(truncated);
      // A cut inside a field is always detected; a cut between fields is a valid (shorter) message.
      if (cutsBetweenFields(enc, truncated.length)) decodeMessage(truncated);
      else assert.throws(() => decodeMessage(truncated), ProtoDecodeError);
      const mutated = enc.slice();
      if (mutated.length > 0) mutated[at % mutated.length]! ^= flip;
      onlyProtoErrors(mutated);
    }),
    { numRuns: 500, seed: 5 },
  );
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (buf) => onlyProtoErrors(buf)),
    { numRuns: 2000, seed: 6 },
  );
  assert.throws(() => decodeMessage(new Uint8Array([0x4a, 5, 1])), ProtoDecodeError); // snapshot longer than input
  assert.throws(() => decodeMessage(new Uint8Array([0x09, 0])), ProtoDecodeError); // type as fixed64
  assert.throws(() => decodeMessage(new Uint8Array([0x00, 0])), ProtoDecodeError); // field 0
});

/** True when a prefix of `enc` ends exactly on a field boundary of the top-level message. */
function cutsBetweenFields(enc: Uint8Array, at: number): boolean {
  let p = 0;
  while (p < at) {
    const wire = enc[p++]! & 7;
    if (wire === 0) while (enc[p++]! >= 0x80);
    else {
      let n = 0;
      let shift = 0;
      let b: number;
      do {
        b = enc[p++]!;
        n += (b & 0x7f) * 2 ** shift;
        shift += 7;
      } while (b >= 0x80);
      p += n;
    }
  }
  return p === at;
}

test('decoded byte fields are plain copies, even from a Buffer', () => {
  const m = message({
    type: MessageType.MsgApp,
    context: new Uint8Array([4]),
    entries: [{ term: 1, index: 2, type: EntryType.EntryNormal, data: new Uint8Array([1, 2, 3]) }],
  });
  const input = Buffer.from(encodeMessage(m));
  const out = decodeMessage(input);
  input.fill(0);
  assert.deepEqual(out, m); // Buffer-typed fields would fail deepStrictEqual against Uint8Array
  assert.equal(Object.getPrototypeOf(out.entries[0]!.data), Uint8Array.prototype);
});
