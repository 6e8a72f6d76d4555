// The payload of a log entry: etcdserverpb.InternalRaftRequest carrying the proposer's wait id and the
// client's request. The client's bytes are spliced in as they arrived (an embedded message is just
// tag + length + bytes), so proposing costs no re-encoding.
import { messageType, toBigInt, type Int64 } from '../proto/index.ts';
import type { CompactionRequest, DeleteRangeRequest, PutRequest, TxnRequest } from './txn/types.ts';

/** InternalRaftRequest field numbers of the request kinds that go through the log. */
export const enum Op {
  Put = 4,
  DeleteRange = 5,
  Txn = 6,
  Compaction = 7,
  LeaseGrant = 8,
  LeaseRevoke = 9,
  LeaseCheckpoint = 11,
  /** A member publishes its name and client URLs (etcd 3.5's cluster_member_attr_set field number). */
  Attributes = 1100,
}

const InternalRaftRequest = messageType('etcdserverpb.InternalRaftRequest');

/** Size of `v` (below 2^53) as a varint. */
function uintSize(v: number): number {
  let n = 1;
  while (v >= 0x80) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

/** Writes `v` (below 2^53) as a varint at `p`; returns the position after it. */
function putUint(b: Uint8Array, p: number, v: number): number {
  while (v >= 0x80) {
    b[p++] = (v % 128) | 0x80;
    v = Math.floor(v / 128);
  }
  b[p++] = v;
  return p;
}

/** A uint64 as its low 28 bits (four varint bytes) and the rest, both exact as numbers. */
const LOW_BITS = 28;
const LOW_MASK = (1 << LOW_BITS) - 1;

function idSize(id: bigint): number {
  const hi = Number(id >> 28n);
  return hi === 0 ? uintSize(Number(id)) : 4 + uintSize(hi);
}

function putId(b: Uint8Array, p: number, id: bigint): number {
  const hi = Number(id >> 28n);
  if (hi === 0) return putUint(b, p, Number(id));
  let lo = Number(id & BigInt(LOW_MASK));
  for (let i = 0; i < 4; i++) {
    b[p++] = (lo & 0x7f) | 0x80;
    lo >>>= 7;
  }
  return putUint(b, p, hi);
}

/** The header tag: field 100, length-delimited. */
const HEADER_TAG = (100 << 3) | 2;

/**
 * InternalRaftRequest { header (field 100) = RequestHeader { ID (field 1) = id }, <op field> = raw },
 * written straight into one buffer.
 */
export function encodeRaftRequest(id: bigint, op: Op, raw: Uint8Array): Buffer {
  const headerLen = 1 + idSize(id);
  const opTag = (op << 3) | 2;
  const size =
    uintSize(HEADER_TAG) +
    uintSize(headerLen) +
    headerLen +
    uintSize(opTag) +
    uintSize(raw.length) +
    raw.length;
  const b = Buffer.allocUnsafe(size);
  let p = putUint(b, 0, HEADER_TAG);
  p = putUint(b, p, headerLen);
  b[p++] = 0x08;
  p = putId(b, p, id);
  p = putUint(b, p, opTag);
  p = putUint(b, p, raw.length);
  b.set(raw, p);
  return b;
}

export interface DecodedRaftRequest {
  id: bigint;
  op: Op;
  req: unknown;
}

interface InternalMsg {
  header?: { ID: Int64 } | null;
  put?: PutRequest | null;
  deleteRange?: DeleteRangeRequest | null;
  txn?: TxnRequest | null;
  compaction?: CompactionRequest | null;
  leaseGrant?: unknown;
  leaseRevoke?: unknown;
  leaseCheckpoint?: unknown;
}

/** Reads varints from `b`, moving `pos` past each. */
class VarintReader {
  pos = 0;
  constructor(private readonly b: Uint8Array) {}

  private byte(): number {
    const byte = this.b[this.pos++];
    if (byte === undefined) throw new Error('raft request: truncated varint');
    return byte;
  }

  /** A varint below 2^53 (tags, lengths). */
  uint(): number {
    let v = 0;
    let mul = 1;
    for (;;) {
      const byte = this.byte();
      v += (byte & 0x7f) * mul;
      if ((byte & 0x80) === 0) return v;
      mul *= 128;
    }
  }

  /** A uint64 varint (an id): its low 28 bits and the rest read as numbers, one bigint at the end. */
  id(): bigint {
    let lo = 0;
    for (let shift = 0; shift < LOW_BITS; shift += 7) {
      const byte = this.byte();
      lo |= (byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return BigInt(lo);
    }
    return (BigInt(this.uint()) << 28n) | BigInt(lo);
  }
}

export interface RaftRequestHead {
  id: bigint;
  op: number;
  /** The request's bytes, a view into the entry. */
  body: Uint8Array;
}

/**
 * The wait id and request kind of an entry without decoding the request: the kind is the field after
 * the header (encodeRaftRequest writes them in that order). Undefined when the entry does not start
 * with a header. Ops outside etcdserverpb.InternalRaftRequest (Attributes) are read only here.
 */
export function peekRaftRequest(data: Uint8Array): RaftRequestHead | undefined {
  const r = new VarintReader(data);
  if (r.uint() !== HEADER_TAG) return undefined;
  const headerEnd = r.uint() + r.pos;
  let id = 0n;
  if (data[r.pos] === 0x08) {
    r.pos++;
    id = r.id();
  }
  r.pos = headerEnd;
  const op = Math.floor(r.uint() / 8);
  const len = r.uint();
  return { id, op, body: data.subarray(r.pos, r.pos + len) };
}

export function decodeRaftRequest(data: Uint8Array): DecodedRaftRequest {
  const peek = peekRaftRequest(data);
  if (peek?.op === Op.Attributes) return { id: peek.id, op: Op.Attributes, req: peek.body };
  const m = InternalRaftRequest.decode(data) as unknown as InternalMsg;
  const id = toBigInt(m.header?.ID, true);
  if (m.put) return { id, op: Op.Put, req: m.put };
  if (m.deleteRange) return { id, op: Op.DeleteRange, req: m.deleteRange };
  if (m.txn) return { id, op: Op.Txn, req: m.txn };
  if (m.compaction) return { id, op: Op.Compaction, req: m.compaction };
  if (m.leaseGrant) return { id, op: Op.LeaseGrant, req: m.leaseGrant };
  if (m.leaseRevoke) return { id, op: Op.LeaseRevoke, req: m.leaseRevoke };
  if (m.leaseCheckpoint) return { id, op: Op.LeaseCheckpoint, req: m.leaseCheckpoint };
  throw new Error('raft request carries no known operation');
}
