// mvccpb.KeyValue as stored in the key bucket (protobuf, etcd's field numbers). Lease IDs are bigint.
import { messageType, toBigInt, toNumber, type Int64 } from '../proto/index.ts';
import { sizeBytes, sizeU64, sizeUint, WIRE_BYTES, Writer } from '../raft/raftpb_wire.ts';

export interface KeyValue {
  key: Buffer;
  createRevision: number;
  modRevision: number;
  version: number;
  value: Buffer;
  lease: bigint;
}

const KV = messageType('mvccpb.KeyValue');
const EMPTY = Buffer.alloc(0);

/**
 * Encodes `kv` in one buffer sized first; byte for byte what protobufjs writes for the same message
 * (every field in number order, the revisions and version even when zero, value and lease only when set).
 */
export function encodeKeyValue(kv: KeyValue): Buffer {
  const lease = kv.lease === 0n ? 0n : BigInt.asUintN(64, kv.lease);
  const size =
    4 +
    sizeBytes(kv.key.length) +
    sizeUint(kv.createRevision) +
    sizeUint(kv.modRevision) +
    sizeUint(kv.version) +
    (kv.value.length ? 1 + sizeBytes(kv.value.length) : 0) +
    (lease !== 0n ? 1 + sizeU64(lease) : 0);
  const buf = Buffer.allocUnsafe(size);
  const w = new Writer(buf, 0);
  w.tag(1, WIRE_BYTES);
  w.bytes(kv.key);
  w.uintField(2, kv.createRevision);
  w.uintField(3, kv.modRevision);
  w.uintField(4, kv.version);
  w.bytesField(5, kv.value);
  if (lease !== 0n) w.u64Field(6, lease);
  return buf;
}

/**
 * A tombstone's stored value: mvccpb.KeyValue with its key only, as etcd stores it (its revision is the
 * bucket key). Byte for byte etcd's, so HashKV agrees with etcd's and snapshots carry the same bytes.
 */
export function encodeTombstone(key: Buffer): Buffer {
  const buf = Buffer.allocUnsafe(1 + sizeBytes(key.length));
  const w = new Writer(buf, 0);
  w.tag(1, WIRE_BYTES);
  w.bytes(key);
  return buf;
}

/** What rebuilding the index needs of a stored KeyValue (readIndexFields); one object, reused. */
export interface IndexFields {
  keyStart: number;
  keyEnd: number;
  createRevision: number;
  version: number;
  /** Where the lease's varint starts (leaseOf reads it), -1 without a lease. */
  leaseAt: number;
}

/** The lease ID whose varint starts at `at` (IndexFields.leaseAt), as decodeKeyValue gives it. */
export function leaseOf(b: Uint8Array, at: number): bigint {
  let v = 0n;
  let shift = 0n;
  for (let p = at; ; p++) {
    const x = b[p]!;
    v |= BigInt(x & 0x7f) << shift;
    if (x < 0x80) break;
    shift += 7n;
  }
  return BigInt.asIntN(64, v);
}

/**
 * Reads the key's place, create_revision and version of a stored mvccpb.KeyValue without decoding the
 * rest (no Buffers, no Longs): rebuilding the index at start reads every stored revision, so this is
 * most of a restart's index phase. Fills and returns `out`. Varints above 2^53 are not expected here
 * (revisions are checked against 2^53-1 when written).
 */
export function readIndexFields(b: Uint8Array, out: IndexFields): IndexFields {
  out.keyStart = 0;
  out.keyEnd = 0;
  out.createRevision = 0;
  out.version = 0;
  out.leaseAt = -1;
  let p = 0;
  const n = b.length;
  while (p < n) {
    const tag = b[p++]!;
    const wire = tag & 7;
    let v = 0;
    let mul = 1;
    if (tag === 0x30) out.leaseAt = p;
    if (wire === 0 || wire === 2) {
      for (;;) {
        const x = b[p++]!;
        v += (x & 0x7f) * mul;
        if (x < 0x80) break;
        mul *= 128;
      }
    }
    if (wire === 2) {
      if (tag === 0x0a) {
        out.keyStart = p;
        out.keyEnd = p + v;
      }
      p += v;
    } else if (wire === 0) {
      if (tag === 0x10) out.createRevision = v;
      else if (tag === 0x20) out.version = v;
    } else if (wire === 1) p += 8;
    else if (wire === 5) p += 4;
    else throw new Error(`mvcc: stored KeyValue has wire type ${wire}`);
  }
  return out;
}

export function decodeKeyValue(b: Uint8Array): KeyValue {
  const m = KV.decode(b) as unknown as {
    key: Buffer;
    createRevision: Int64;
    modRevision: Int64;
    version: Int64;
    value: Buffer;
    lease: Int64;
  };
  return {
    key: m.key.length ? Buffer.from(m.key) : EMPTY,
    createRevision: toNumber(m.createRevision),
    modRevision: toNumber(m.modRevision),
    version: toNumber(m.version),
    value: m.value.length ? Buffer.from(m.value) : EMPTY,
    lease: toBigInt(m.lease),
  };
}
