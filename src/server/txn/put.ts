// Put and DeleteRange inside a write transaction (etcd semantics for prev_kv, ignore_value, ignore_lease).
import { asBuf, toBigInt } from '../../proto/index.ts';
import { ErrKeyNotFound, ErrLeaseNotFound } from '../errors.ts';
import type {
  DeleteRangeRequest,
  DeleteRangeResponse,
  PutRequest,
  PutResponse,
} from '../../proto/etcdserverpb.ts';
import { kvToMsg, rangeEndOf, type LeaseHooks, type WriteCtx } from './kv_view.ts';

/** The revision a write op reports: the txn's revision once anything in it has changed. */
const writeRev = (ctx: WriteCtx) => (ctx.changes > 0 ? ctx.beginRev + 1 : ctx.beginRev);

/** Checks that hold before a put may run (also used to vet a whole txn branch before it runs). */
export function checkPut(ctx: WriteCtx, p: PutRequest, leases: LeaseHooks): void {
  if (p.ignoreValue || p.ignoreLease) {
    if (ctx.view.range(asBuf(p.key), undefined, {}).kvs.length === 0) throw new ErrKeyNotFound();
  }
  const lease = toBigInt(p.lease);
  if (!p.ignoreLease && lease !== 0n && !leases.exists(lease)) throw new ErrLeaseNotFound();
}

export function executePut(ctx: WriteCtx, p: PutRequest, leases: LeaseHooks): PutResponse {
  const key = asBuf(p.key);
  let value = asBuf(p.value);
  let lease = toBigInt(p.lease);
  const prev =
    p.ignoreValue || p.ignoreLease || p.prevKv ? ctx.view.range(key, undefined, {}).kvs[0] : undefined;
  if ((p.ignoreValue || p.ignoreLease) && !prev) throw new ErrKeyNotFound();
  if (p.ignoreValue) value = prev!.value;
  if (p.ignoreLease) lease = prev!.lease;
  if (lease !== 0n && !leases.exists(lease)) throw new ErrLeaseNotFound();
  const k = ctx.view.put(key, value, lease);
  ctx.changes++;
  const old = leases.leaseOf(k);
  if (old !== undefined && old !== lease) leases.detach(old, k);
  if (lease !== 0n) leases.attach(lease, k);
  const resp: PutResponse = { header: { revision: writeRev(ctx) } };
  if (p.prevKv && prev) resp.prevKv = kvToMsg(prev);
  return resp;
}

export function executeDeleteRange(
  ctx: WriteCtx,
  d: DeleteRangeRequest,
  leases: LeaseHooks,
): DeleteRangeResponse {
  const { deleted, prevKvs } = ctx.view.deleteRange(asBuf(d.key), rangeEndOf(d.rangeEnd));
  ctx.changes += deleted;
  for (const kv of prevKvs) if (kv.lease !== 0n) leases.detach(kv.lease, kv.key.toString('latin1'));
  return {
    header: { revision: writeRev(ctx) },
    deleted,
    prevKvs: d.prevKv ? prevKvs.map((kv) => kvToMsg(kv)) : [],
  };
}
