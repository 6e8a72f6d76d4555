// The innermost applier: runs commands against the MVCC store and the lessor. Each call is one write
// txn that also records the applied (consistent) index, so replaying an entry after a crash is a no-op.
// The stores are read on each call: a snapshot from the leader replaces the KV store.
import type { KVStore } from '../../mvcc/kvstore.ts';
import type { Lessor } from '../../lease/lessor.ts';
import { sat, toBigInt, toNumber } from '../../proto/index.ts';
import { ErrLeaseExist, ErrLeaseNotFound } from '../errors.ts';
import { ClientError, InvariantError } from '../../pkg/errors.ts';
import { executeDeleteRange, executePut } from '../txn/put.ts';
import { executeTxn } from '../txn/txn.ts';
import type { WriteCtx } from '../txn/kv_view.ts';
import type {
  CompactionRequest,
  DeleteRangeRequest,
  PutRequest,
  TxnRequest,
} from '../../proto/etcdserverpb.ts';
import type { AlarmStore } from '../alarm_store.ts';
import type {
  AlarmRequest,
  AlarmResult,
  Applier,
  ApplyPosition,
  CompactionResult,
  LeaseCheckpointRequest,
  LeaseGrantRequest,
  LeaseRevokeRequest,
} from './applier.ts';

export class BackendApplier implements Applier {
  /** Set by the caller before each entry is applied. */
  position: ApplyPosition = { index: 0, term: 0 };

  constructor(
    private readonly stores: { readonly kv: KVStore; readonly lessor: Lessor; readonly alarms: AlarmStore },
  ) {}

  /**
   * Runs `run(ctx, req, lessor)` in one write txn (a function reference, not a closure per command).
   * A ClientError fails the request: the txn ends unchanged. Anything else is a bug: it propagates
   * without ending the txn (no watcher sees half a change) and the member stops.
   */
  private inWriteTxn<R, T>(run: (ctx: WriteCtx, req: R, lessor: Lessor) => T, req: R): T {
    const kv = this.stores.kv;
    const txn = kv.write();
    const ctx: WriteCtx = { view: txn, beginRev: kv.rev(), changes: 0 };
    let r: T;
    try {
      r = run(ctx, req, this.stores.lessor);
    } catch (err) {
      if (!(err instanceof ClientError)) throw err;
      // A request's error after it wrote: the store would be half-changed. That is a bug; stop.
      if (ctx.changes > 0) throw new InvariantError('apply: command failed after partial writes');
      txn.end({ consistentIndex: this.position.index, term: this.position.term });
      throw err;
    }
    txn.end({ consistentIndex: this.position.index, term: this.position.term });
    return r;
  }

  /** Records the entry's index when it changes no key (also for an entry a layer above refuses). */
  noKvChange(): void {
    this.stores.kv.setConsistentIndex(this.position.index, this.position.term);
  }

  put(req: PutRequest) {
    return this.inWriteTxn(executePut, req);
  }

  deleteRange(req: DeleteRangeRequest) {
    return this.inWriteTxn(executeDeleteRange, req);
  }

  txn(req: TxnRequest) {
    return this.inWriteTxn(executeTxn, req);
  }

  compaction(req: CompactionRequest): CompactionResult {
    this.noKvChange();
    const { done } = this.stores.kv.compact(sat(req.revision));
    return { resp: { header: { revision: this.stores.kv.rev() } }, physical: done };
  }

  leaseGrant(req: LeaseGrantRequest) {
    this.noKvChange();
    const id = toBigInt(req.ID);
    if (this.stores.lessor.lookup(id)) throw new ErrLeaseExist();
    const l = this.stores.lessor.grant(id, toNumber(req.TTL));
    return { header: { revision: this.stores.kv.rev() }, ID: l.id, TTL: l.ttl };
  }

  leaseRevoke(req: LeaseRevokeRequest) {
    const id = toBigInt(req.ID);
    if (!this.stores.lessor.lookup(id)) {
      this.noKvChange();
      throw new ErrLeaseNotFound();
    }
    // Every attached key goes in one write txn: one revision for the whole revocation.
    return this.inWriteTxn(revokeLease, id);
  }

  leaseCheckpoint(req: LeaseCheckpointRequest) {
    this.noKvChange();
    for (const c of req.checkpoints) this.stores.lessor.checkpoint(toBigInt(c.ID), toNumber(c.remaining_TTL));
    return { header: { revision: this.stores.kv.rev() } };
  }

  /** etcd's applierV3backend.Alarm: GET lists, ACTIVATE and DEACTIVATE answer the alarm they touched. */
  alarm(req: AlarmRequest): AlarmResult {
    this.noKvChange();
    const { alarms } = this.stores;
    const id = toBigInt(req.memberID, true);
    const type = req.alarm ?? 0;
    switch (req.action ?? 0) {
      case ALARM_GET:
        return { alarms: alarms.get(type) };
      case ALARM_ACTIVATE:
        // As etcd: even NONE is stored (and then listed) when a client activates it.
        return { alarms: [alarms.activate(id, type)] };
      case ALARM_DEACTIVATE: {
        const m = alarms.deactivate(id, type);
        return { alarms: m ? [m] : [] };
      }
      default:
        return { alarms: [] };
    }
  }
}

/** etcdserverpb.AlarmRequest.AlarmAction. */
const ALARM_GET = 0;
const ALARM_ACTIVATE = 1;
const ALARM_DEACTIVATE = 2;

/** Revokes lease `id`, deleting every attached key (in the caller's one write txn). */
function revokeLease(ctx: WriteCtx, id: bigint, lessor: Lessor): { header: { revision: number } } {
  for (const k of lessor.revoke(id) ?? []) {
    const key = Buffer.from(k, 'latin1');
    ctx.changes += ctx.view.deleteRange(key, undefined).deleted;
  }
  return { header: { revision: ctx.changes > 0 ? ctx.beginRev + 1 : ctx.beginRev } };
}
