// Request checks done before a request is proposed (etcd's v3rpc checks): they need no store state.
import {
  ErrDuplicateKey,
  ErrEmptyKey,
  ErrInvalidSortOption,
  ErrLeaseProvided,
  ErrTooManyOps,
  ErrValueProvided,
} from '../../server/errors.ts';
import { asBuf, toBigInt } from '../../proto/index.ts';
import type {
  DeleteRangeRequest,
  PutRequest,
  RangeRequest,
  RequestOp,
  TxnRequest,
} from '../../proto/etcdserverpb.ts';

export function checkRangeRequest(r: RangeRequest): void {
  if (r.key.length === 0) throw new ErrEmptyKey();
  if (r.sortOrder < 0 || r.sortOrder > 2 || r.sortTarget < 0 || r.sortTarget > 4)
    throw new ErrInvalidSortOption();
}

export function checkPutRequest(p: PutRequest): void {
  if (p.key.length === 0) throw new ErrEmptyKey();
  if (p.ignoreValue && p.value.length !== 0) throw new ErrValueProvided();
  if (p.ignoreLease && toBigInt(p.lease) !== 0n) throw new ErrLeaseProvided();
}

export function checkDeleteRequest(d: DeleteRangeRequest): void {
  if (d.key.length === 0) throw new ErrEmptyKey();
}

export function checkTxnRequest(t: TxnRequest, maxTxnOps: number): void {
  if (t.compare.length > maxTxnOps || t.success.length > maxTxnOps || t.failure.length > maxTxnOps) {
    throw new ErrTooManyOps();
  }
  for (const c of t.compare) if (c.key.length === 0) throw new ErrEmptyKey();
  for (const op of t.success) checkRequestOp(op, maxTxnOps);
  for (const op of t.failure) checkRequestOp(op, maxTxnOps);
  checkIntervals(t.success);
  checkIntervals(t.failure);
}

function checkRequestOp(op: RequestOp, maxTxnOps: number): void {
  if (op.requestRange) checkRangeRequest(op.requestRange);
  else if (op.requestPut) checkPutRequest(op.requestPut);
  else if (op.requestDeleteRange) checkDeleteRequest(op.requestDeleteRange);
  else if (op.requestTxn) checkTxnRequest(op.requestTxn, maxTxnOps);
}

/** A deleted key or [key, end) range, in latin1 so that string order is byte order. */
interface Interval {
  from: string;
  to: string | undefined;
}

const latin1 = (b: Uint8Array) => asBuf(b).toString('latin1');

function hits(dels: Interval[], k: string): boolean {
  return dels.some((d) => (d.to === undefined ? d.from === k : d.from <= k && k < d.to));
}

/**
 * No key may be written twice in one branch: two puts of a key, or a put inside a deleted range, are
 * refused. Puts in the two branches of a nested txn may coincide (only one branch runs).
 */
function checkIntervals(ops: RequestOp[]): { puts: Set<string>; dels: Interval[] } {
  const dels: Interval[] = [];
  for (const op of ops) {
    const d = op.requestDeleteRange;
    if (d) dels.push({ from: latin1(d.key), to: d.rangeEnd.length ? latin1(d.rangeEnd) : undefined });
  }
  const puts = new Set<string>();
  for (const op of ops) {
    if (!op.requestTxn) continue;
    const then = checkIntervals(op.requestTxn.success);
    const otherwise = checkIntervals(op.requestTxn.failure);
    for (const k of then.puts) {
      if (puts.has(k) || hits(dels, k)) throw new ErrDuplicateKey();
      puts.add(k);
    }
    for (const k of otherwise.puts) {
      if ((puts.has(k) && !then.puts.has(k)) || hits(dels, k)) throw new ErrDuplicateKey();
      puts.add(k);
    }
    dels.push(...then.dels, ...otherwise.dels);
  }
  for (const op of ops) {
    if (!op.requestPut) continue;
    const k = latin1(op.requestPut.key);
    if (puts.has(k) || hits(dels, k)) throw new ErrDuplicateKey();
    puts.add(k);
  }
  return { puts, dels };
}
