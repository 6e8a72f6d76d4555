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

export function decodeRaftRequest(data: Uint8Array): DecodedRaftRequest {
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
