// The payload of a log entry: etcdserverpb.InternalRaftRequest carrying the proposer's wait id and the
// client's request. The client's bytes are spliced in as they arrived (an embedded message is just
// tag + length + bytes), so proposing costs no re-encoding.
import { messageType, toBigInt, type Int64 } from '../proto/index.ts';
import { Reader, sizeBytes, sizeU64, sizeUint, WIRE_BYTES, Writer } from '../raft/raftpb_wire.ts';
import type { CompactionRequest, DeleteRangeRequest, PutRequest, TxnRequest } from '../proto/etcdserverpb.ts';

/** InternalRaftRequest field numbers of the request kinds that go through the log. */
export const enum Op {
  Put = 4,
  DeleteRange = 5,
  Txn = 6,
  Compaction = 7,
  LeaseGrant = 8,
  LeaseRevoke = 9,
  Alarm = 10,
  LeaseCheckpoint = 11,
  /** A member publishes its name and client URLs (etcd 3.5's cluster_member_attr_set field number). */
  Attributes = 1100,
}

const InternalRaftRequest = messageType('etcdserverpb.InternalRaftRequest');

/** The header tag: field 100, length-delimited. */
const HEADER_TAG = (100 << 3) | WIRE_BYTES;

/**
 * InternalRaftRequest { header (field 100) = RequestHeader { ID (field 1) = id }, <op field> = raw },
 * written straight into one buffer.
 */
export function encodeRaftRequest(id: bigint, op: Op, raw: Uint8Array): Buffer {
  const headerLen = 1 + sizeU64(id);
  const opTag = (op << 3) | WIRE_BYTES;
  const size = sizeUint(HEADER_TAG) + sizeBytes(headerLen) + sizeUint(opTag) + sizeBytes(raw.length);
  const b = Buffer.allocUnsafe(size);
  const w = new Writer(b, 0);
  w.uint(HEADER_TAG);
  w.uint(headerLen);
  w.u64Field(1, id);
  w.uint(opTag);
  w.bytes(raw);
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
  alarm?: unknown;
}

export interface RaftRequestHead {
  id: bigint;
  op: number;
  /** Where the request's bytes are in the entry: [bodyStart, bodyEnd). */
  bodyStart: number;
  bodyEnd: number;
}

/**
 * The wait id and request kind of an entry without decoding the request: the kind is the field after
 * the header (encodeRaftRequest writes them in that order). Undefined when the entry does not start
 * with a header. Ops outside etcdserverpb.InternalRaftRequest (Attributes) are read only here.
 */
export function peekRaftRequest(data: Uint8Array): RaftRequestHead | undefined {
  const r = new Reader(data);
  if (r.key() !== HEADER_TAG) return undefined;
  const headerEnd = r.delimitedEnd();
  let id = 0n;
  if (data[r.pos] === 0x08) {
    r.pos++;
    id = r.u64();
  }
  r.pos = headerEnd;
  const op = r.key() >>> 3;
  const bodyEnd = r.delimitedEnd();
  return { id, op, bodyStart: r.pos, bodyEnd };
}

/** Decodes an entry; `peek` is its head when the caller has read it already. */
export function decodeRaftRequest(
  data: Uint8Array,
  peek: RaftRequestHead | undefined = peekRaftRequest(data),
): DecodedRaftRequest {
  if (peek?.op === Op.Attributes) {
    return { id: peek.id, op: Op.Attributes, req: data.subarray(peek.bodyStart, peek.bodyEnd) };
  }
  const m = InternalRaftRequest.decode(data) as unknown as InternalMsg;
  const id = toBigInt(m.header?.ID, true);
  if (m.put) return { id, op: Op.Put, req: m.put };
  if (m.deleteRange) return { id, op: Op.DeleteRange, req: m.deleteRange };
  if (m.txn) return { id, op: Op.Txn, req: m.txn };
  if (m.compaction) return { id, op: Op.Compaction, req: m.compaction };
  if (m.leaseGrant) return { id, op: Op.LeaseGrant, req: m.leaseGrant };
  if (m.leaseRevoke) return { id, op: Op.LeaseRevoke, req: m.leaseRevoke };
  if (m.leaseCheckpoint) return { id, op: Op.LeaseCheckpoint, req: m.leaseCheckpoint };
  if (m.alarm) return { id, op: Op.Alarm, req: m.alarm };
  throw new Error('raft request carries no known operation');
}
