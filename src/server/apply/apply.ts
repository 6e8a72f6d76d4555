// Applies committed log entries: decode (or reuse the proposer's decoded request), run it through the
// applier chain, settle the proposer's waiter. The backend batch is committed once per call. Entries
// that are not KV or lease commands (conf changes, empty entries, published attributes) go to the deps
// (entry_applier.ts implements them for the member).
// Only a ClientError (one request's error: a missing lease, a compacted revision) fails just that
// request; anything else thrown here is a bug or a broken invariant and propagates to the Ready loop,
// which stops the member (fail-stop). The decision is made on the error's class, never its message.
import { EntryType, type Entry } from '../../raft/index.ts';
import {
  AUTH_OP_MAX,
  AUTH_OP_MIN,
  decodeRaftRequest,
  Op,
  peekRaftRequest,
  type RequestAuth,
} from '../raft_request.ts';
import type { Proposer } from '../propose.ts';
import { ClientError, InvariantError } from '../../pkg/errors.ts';
import { ErrNoSpace } from '../errors.ts';
import type {
  AlarmRequest,
  ApplyPosition,
  Applier,
  LeaseCheckpointRequest,
  LeaseGrantRequest,
  LeaseRevokeRequest,
} from './applier.ts';
import type {
  CompactionRequest,
  DeleteRangeRequest,
  PutRequest,
  TxnRequest,
} from '../../proto/etcdserverpb.ts';

export interface ApplyDeps {
  /**
   * The applier chain for the next entry (the alarms raised choose its layers; enabled auth adds its
   * checks for `auth`, the caller the entry's header names).
   */
  applier(auth?: RequestAuth): Applier;
  /** An Auth service entry (etcd's InternalRaftRequest auth_* fields): its response. */
  applyAuth(op: Op, req: unknown, auth: RequestAuth | undefined, index: number): unknown;
  /** Where the next entry's writes record their index. */
  setPosition(p: ApplyPosition): void;
  /**
   * An entry was answered ErrNoSpace (etcd's applyEntryNormal): raises NOSPACE for this member unless
   * it is raised already (then undefined); the entry's waiter is answered once that settles.
   */
  onNoSpace(): Promise<void> | undefined;
  proposer: Proposer;
  /** The applied index the store already holds: entries at or below it are skipped (replay). */
  appliedIndex(): number;
  /**
   * A committed conf change: raft must take it even on replay (`stored` says the backend already holds
   * its effect); the membership store takes it only when not stored.
   */
  applyConfChange(e: Entry, stored: boolean): void;
  /** An entry with no request (a new leader's empty entry): only the applied index moves. */
  applyEmpty(e: Entry): void;
  /** A member's published name and client URLs (Op.Attributes). */
  applyAttributes(e: Entry, body: Uint8Array): void;
  /** Commits the backend batch holding everything applied by this call. */
  commitBackend(): void;
}

function applyOne(a: Applier, op: Op, req: unknown): unknown {
  switch (op) {
    case Op.Put:
      return a.put(req as PutRequest);
    case Op.DeleteRange:
      return a.deleteRange(req as DeleteRangeRequest);
    case Op.Txn:
      return a.txn(req as TxnRequest);
    case Op.Compaction: {
      const r = a.compaction(req as CompactionRequest);
      return (req as CompactionRequest).physical ? r.physical.then(() => r.resp) : r.resp;
    }
    case Op.LeaseGrant:
      return a.leaseGrant(req as LeaseGrantRequest);
    case Op.LeaseRevoke:
      return a.leaseRevoke(req as LeaseRevokeRequest);
    case Op.LeaseCheckpoint:
      return a.leaseCheckpoint(req as LeaseCheckpointRequest);
    case Op.Alarm:
      return a.alarm(req as AlarmRequest);
    default:
      throw new InvariantError(`apply: unsupported operation ${op}`);
  }
}

/** Returns the index of the last entry applied by this call, 0 when every entry was applied before. */
export function applyEntries(deps: ApplyDeps, entries: readonly Entry[]): number {
  let last = 0;
  for (const e of entries) {
    if (e.type === EntryType.EntryConfChange || e.type === EntryType.EntryConfChangeV2) {
      const stored = e.index <= deps.appliedIndex();
      deps.applyConfChange(e, stored);
      if (!stored) last = e.index;
      continue;
    }
    if (e.index <= deps.appliedIndex()) continue;
    if (e.data.length === 0) {
      deps.applyEmpty(e);
      last = e.index;
      continue;
    }
    // This member's own proposal carries its request already decoded: only the head is read then.
    const head = peekRaftRequest(e.data);
    let waiter = head ? deps.proposer.take(head.id) : undefined;
    let op: Op;
    let req: unknown;
    if (head && waiter && head.op !== Op.Attributes) {
      op = head.op;
      req = waiter.decoded;
    } else {
      const d = decodeRaftRequest(e.data, head);
      waiter ??= deps.proposer.take(d.id);
      op = d.op;
      req = d.req;
    }
    if (op === Op.Attributes) {
      deps.applyAttributes(e, req as Uint8Array);
      waiter?.resolve(undefined);
      last = e.index;
      continue;
    }
    deps.setPosition({ index: e.index, term: e.term });
    try {
      const result =
        op >= AUTH_OP_MIN && op <= AUTH_OP_MAX
          ? deps.applyAuth(op, req, head?.auth, e.index)
          : applyOne(deps.applier(head?.auth), op, req);
      if (waiter) waiter.resolve(result);
      // An answer made later (a signed JWT) that nobody here waits for: its failure is no one's.
      else if (result instanceof Promise) result.catch(() => undefined);
    } catch (err) {
      if (!(err instanceof ClientError)) throw err;
      const raising = err instanceof ErrNoSpace ? deps.onNoSpace() : undefined;
      if (!raising) waiter?.reject(err);
      else if (waiter) void raising.then(() => waiter.reject(err));
    }
    last = e.index;
  }
  if (last > 0) deps.commitBackend();
  return last;
}
