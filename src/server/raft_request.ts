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

function varint(out: number[], v: bigint | number): void {
  let x = BigInt(v);
  while (x >= 0x80n) {
    out.push(Number(x & 0x7fn) | 0x80);
    x >>= 7n;
  }
  out.push(Number(x));
}

export function encodeRaftRequest(id: bigint, op: Op, raw: Uint8Array): Buffer {
  const head: number[] = [];
  // header (field 100) = RequestHeader { ID (field 1) }
  const inner: number[] = [0x08];
  varint(inner, id);
  varint(head, (100 << 3) | 2);
  varint(head, inner.length);
  head.push(...inner);
  varint(head, (op << 3) | 2);
  varint(head, raw.length);
  return Buffer.concat([Buffer.from(head), raw]);
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

/** Reads a varint at `pos`; returns the value and the position after it. */
function readVarint(b: Uint8Array, pos: number): [bigint, number] {
  let v = 0n;
  let shift = 0n;
  for (;;) {
    const byte = b[pos++];
    if (byte === undefined) throw new Error('raft request: truncated varint');
    v |= BigInt(byte & 0x7f) << shift;
    if ((byte & 0x80) === 0) return [v, pos];
    shift += 7n;
  }
}

/**
 * The request kind is the field after the header (encodeRaftRequest writes them in that order). Ops
 * outside etcdserverpb.InternalRaftRequest (Attributes) are read here, by hand.
 */
function peekOp(data: Uint8Array): { id: bigint; op: number; body: Uint8Array } | undefined {
  let [tag, pos] = readVarint(data, 0);
  if (tag !== BigInt((100 << 3) | 2)) return undefined;
  let len: bigint;
  [len, pos] = readVarint(data, pos);
  const headerEnd = pos + Number(len);
  let id = 0n;
  if (data[pos] === 0x08) [id] = readVarint(data, pos + 1);
  [tag, pos] = readVarint(data, headerEnd);
  [len, pos] = readVarint(data, pos);
  return { id, op: Number(tag >> 3n), body: data.subarray(pos, pos + Number(len)) };
}

export function decodeRaftRequest(data: Uint8Array): DecodedRaftRequest {
  const peek = peekOp(data);
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
