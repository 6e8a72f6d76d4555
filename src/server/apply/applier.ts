// The apply chain (etcd's uber applier shape): each layer implements Applier and wraps the next.
// Today: backend (command semantics on the MVCC store and the lessor). Auth, quota and alarms wrap it
// later.
import type {
  CompactionRequest,
  DeleteRangeRequest,
  PutRequest,
  PutResponse,
  DeleteRangeResponse,
  TxnRequest,
  TxnResponse,
  Header,
} from '../../proto/etcdserverpb.ts';
import type { Int64 } from '../../proto/index.ts';
import type { AlarmMember } from '../alarm_store.ts';

export interface CompactionResult {
  resp: { header: Header };
  /** Resolves when the compaction is physically done in the backend. */
  physical: Promise<void>;
}

export interface LeaseGrantRequest {
  TTL: Int64;
  ID: Int64;
}

export interface LeaseRevokeRequest {
  ID: Int64;
}

export interface LeaseCheckpointRequest {
  checkpoints: { ID: Int64; remaining_TTL: Int64 }[];
}

export interface AlarmRequest {
  action: number;
  memberID: Int64;
  alarm: number;
}

/** etcd's AlarmResponse as its applier makes it: no header. */
export interface AlarmResult {
  alarms: AlarmMember[];
}

export interface Applier {
  put(req: PutRequest): PutResponse;
  deleteRange(req: DeleteRangeRequest): DeleteRangeResponse;
  txn(req: TxnRequest): TxnResponse;
  compaction(req: CompactionRequest): CompactionResult;
  leaseGrant(req: LeaseGrantRequest): { header: Header; ID: bigint; TTL: number };
  leaseRevoke(req: LeaseRevokeRequest): { header: Header };
  leaseCheckpoint(req: LeaseCheckpointRequest): { header: Header };
  alarm(req: AlarmRequest): AlarmResult;
}

/** Where an applied entry leaves its index; every write txn of the entry stores it atomically. */
export interface ApplyPosition {
  index: number;
  term: number;
}
