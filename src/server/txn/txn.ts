// Txn: compares, then one branch of ops, all in one write transaction at one revision.
// As in etcd, every compare (nested ones too) is evaluated against the store as it was when the txn
// began; ops then run in order and later ops see earlier writes of the same txn.
import { asBuf, sat, toBigInt } from '../../proto/index.ts';
import { ClientError } from '../../pkg/errors.ts';
import {
  CompareResult,
  CompareTarget,
  type Compare,
  type RequestOp,
  type ResponseOp,
  type TxnRequest,
  type TxnResponse,
} from '../../proto/etcdserverpb.ts';
import { rangeEndOf, type LeaseHooks, type ReadView, type StoredKV, type WriteCtx } from './kv_view.ts';
import { executeRange } from './range.ts';
import { checkPut, executeDeleteRange, executePut } from './put.ts';

function cmpNum(a: number | bigint, b: number | bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function compareKV(c: Compare, kv: StoredKV | undefined): boolean {
  let r: number;
  switch (c.target) {
    case CompareTarget.VALUE:
      r = Buffer.compare(
        kv?.value ?? Buffer.alloc(0),
        c.targetUnion === 'value' && c.value ? asBuf(c.value) : Buffer.alloc(0),
      );
      break;
    case CompareTarget.CREATE:
      r = cmpNum(kv?.createRevision ?? 0, c.targetUnion === 'createRevision' ? sat(c.createRevision) : 0);
      break;
    case CompareTarget.MOD:
      r = cmpNum(kv?.modRevision ?? 0, c.targetUnion === 'modRevision' ? sat(c.modRevision) : 0);
      break;
    case CompareTarget.VERSION:
      r = cmpNum(kv?.version ?? 0, c.targetUnion === 'version' ? sat(c.version) : 0);
      break;
    case CompareTarget.LEASE:
      r = cmpNum(kv?.lease ?? 0n, c.targetUnion === 'lease' ? toBigInt(c.lease) : 0n);
      break;
    default:
      return false;
  }
  switch (c.result) {
    case CompareResult.EQUAL:
      return r === 0;
    case CompareResult.NOT_EQUAL:
      return r !== 0;
    case CompareResult.GREATER:
      return r > 0;
    case CompareResult.LESS:
      return r < 0;
    default:
      return true;
  }
}

/** One compare: every key in its range must satisfy it; a VALUE compare on no key is false. */
export function applyCompare(view: ReadView, c: Compare): boolean {
  let kvs: StoredKV[];
  try {
    kvs = view.range(asBuf(c.key), rangeEndOf(c.rangeEnd), {}).kvs;
  } catch (err) {
    // A request's error fails the compare (etcd's applyCompare); a broken store invariant stops the member.
    if (!(err instanceof ClientError)) throw err;
    return false;
  }
  if (kvs.length === 0) return c.target === CompareTarget.VALUE ? false : compareKV(c, undefined);
  return kvs.every((kv) => compareKV(c, kv));
}

/** The branch taken by this txn and by every nested txn on that branch, depth first. */
export function compareToPath(view: ReadView, t: TxnRequest): boolean[] {
  const ok = t.compare.every((c) => applyCompare(view, c));
  const path = [ok];
  for (const op of ok ? t.success : t.failure) {
    if (op.requestTxn) path.push(...compareToPath(view, op.requestTxn));
  }
  return path;
}

export function isTxnReadOnly(t: TxnRequest): boolean {
  const ro = (ops: RequestOp[]) =>
    ops.every(
      (op) => !op.requestPut && !op.requestDeleteRange && (!op.requestTxn || isTxnReadOnly(op.requestTxn)),
    );
  return ro(t.success) && ro(t.failure);
}

/** Vets the ops on the chosen path before any runs, so a failing txn changes nothing. */
function checkRequests(
  ctx: WriteCtx,
  t: TxnRequest,
  path: boolean[],
  at: number,
  leases: LeaseHooks,
): number {
  const ops = path[at] ? t.success : t.failure;
  let next = at + 1;
  for (const op of ops) {
    if (op.requestPut) checkPut(ctx, op.requestPut, leases);
    else if (op.requestRange) {
      // The store raises its own error (future or compacted revision) for an unreadable revision.
      const r = op.requestRange;
      if (sat(r.revision) > 0) ctx.view.range(asBuf(r.key), undefined, { rev: sat(r.revision), limit: 1 });
    } else if (op.requestTxn) next = checkRequests(ctx, op.requestTxn, path, next, leases);
  }
  return next;
}

function applyOps(
  ctx: WriteCtx,
  t: TxnRequest,
  path: boolean[],
  at: number,
  leases: LeaseHooks,
  resp: TxnResponse,
): number {
  const ops = path[at] ? t.success : t.failure;
  let next = at + 1;
  for (const op of ops) {
    let r: ResponseOp;
    if (op.requestRange) {
      const rr = executeRange(ctx.view, op.requestRange);
      rr.header.revision = ctx.changes > 0 ? ctx.beginRev + 1 : ctx.beginRev;
      r = { responseRange: rr };
    } else if (op.requestPut) {
      r = { responsePut: executePut(ctx, op.requestPut, leases) };
    } else if (op.requestDeleteRange) {
      r = { responseDeleteRange: executeDeleteRange(ctx, op.requestDeleteRange, leases) };
    } else if (op.requestTxn) {
      const nested: TxnResponse = { header: { revision: 0 }, succeeded: path[next]!, responses: [] };
      next = applyOps(ctx, op.requestTxn, path, next, leases, nested);
      r = { responseTxn: nested };
    } else {
      continue;
    }
    resp.responses.push(r);
  }
  return next;
}

/**
 * Runs a txn in `ctx` (a write txn, or a read txn wrapped as one for read-only txns). The caller ends
 * the transaction; the response header revision is the txn's revision.
 */
export function executeTxn(ctx: WriteCtx, t: TxnRequest, leases: LeaseHooks): TxnResponse {
  const path = compareToPath(ctx.view, t);
  checkRequests(ctx, t, path, 0, leases);
  const resp: TxnResponse = { header: { revision: 0 }, succeeded: path[0]!, responses: [] };
  applyOps(ctx, t, path, 0, leases, resp);
  resp.header.revision = ctx.changes > 0 ? ctx.beginRev + 1 : ctx.beginRev;
  return resp;
}
