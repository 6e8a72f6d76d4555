// What command semantics need from the MVCC store: a read view, a write view, and the revision the
// write transaction started at. The mvcc package's txns satisfy these structurally.
import { asBuf, fromBigInt } from '../../proto/index.ts';
import type { KeyValueMsg } from '../../proto/etcdserverpb.ts';

export interface StoredKV {
  key: Buffer;
  createRevision: number;
  modRevision: number;
  version: number;
  value: Buffer;
  lease: bigint;
}

export interface RangeOpts {
  rev?: number;
  limit?: number;
  countOnly?: boolean;
}

export interface RangeResult {
  kvs: StoredKV[];
  count: number;
  rev: number;
}

export interface ReadView {
  range(key: Buffer, end: Buffer | undefined, opts: RangeOpts): RangeResult;
}

export interface WriteView extends ReadView {
  /** Returns the key as latin1 (what the lessor keys by). */
  put(key: Buffer, value: Buffer, lease: bigint): string;
  deleteRange(key: Buffer, end: Buffer | undefined): { deleted: number; prevKvs: StoredKV[] };
}

/** A write transaction as command code sees it; `changes` counts what was written so far. */
export interface WriteCtx {
  view: WriteView;
  beginRev: number;
  changes: number;
}

/** What command code needs from the lessor: existence, and key attachment as keys change leases. */
export interface LeaseHooks {
  exists(id: bigint): boolean;
  attach(id: bigint, key: string): void;
  detach(id: bigint, key: string): void;
  /** The lease a key (latin1) is attached to, if any. */
  leaseOf(key: string): bigint | undefined;
}

/** For reads and tests: no leases at all. */
export const NO_LEASES: LeaseHooks = {
  exists: () => false,
  attach: () => {},
  detach: () => {},
  leaseOf: () => undefined,
};

/** The range end as the store takes it: empty means "just the key". */
export const rangeEndOf = (end: Uint8Array): Buffer | undefined =>
  end.length === 0 ? undefined : asBuf(end);

export function kvToMsg(kv: StoredKV, keysOnly = false): KeyValueMsg {
  const m: KeyValueMsg = {
    key: kv.key,
    createRevision: kv.createRevision,
    modRevision: kv.modRevision,
    version: kv.version,
  };
  if (!keysOnly) m.value = kv.value;
  if (kv.lease !== 0n) m.lease = fromBigInt(kv.lease);
  return m;
}
