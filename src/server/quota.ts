// The backend quota (etcd's quota.go, --quota-backend-bytes): what a request is estimated to add to the
// backend, and whether that still fits. Checked twice, as etcd does: by the commands before proposing
// (etcd's v3rpc quotaKVServer / quotaLeaseServer: refused at once and a NOSPACE alarm is raised through
// the log) and by the applier when the entry applies (apply/quota_applier.ts).
//
// "Size" is the backend's bytes in use (LMDB pages holding data), not its file size: LMDB reuses the
// pages a compaction frees, so the bytes in use are what grows toward the quota, and a compaction
// brings them down without a defragmentation (etcd counts bbolt's high-water mark, which only a
// defrag lowers). Reading it walks every bucket's stats (~70 us), so it is read at most once per
// `refreshMs` (etcd's own Size() moves only when its backend commits, every 100 ms).
import type { Logger } from 'pino';
import type { PutRequest, RequestOp, TxnRequest } from '../proto/etcdserverpb.ts';
import { fromBigInt, messageType } from '../proto/index.ts';
import { AlarmType } from './alarm_store.ts';
import { ErrNoSpace } from './errors.ts';
import { Op } from './raft_request.ts';

/** etcd's DefaultQuotaBytes: the quota when --quota-backend-bytes is 0 or not given. */
export const DEFAULT_QUOTA_BYTES = 2 * 1024 ** 3;
/** etcd's MaxQuotaBytes: larger quotas are taken, with a warning. */
export const MAX_QUOTA_BYTES = 8 * 1024 ** 3;
/** etcd's estimate of a lease's cost. */
export const LEASE_OVERHEAD = 64;
/** etcd's estimate of a key's metadata. */
export const KV_OVERHEAD = 256;

export function costPut(r: PutRequest): number {
  return KV_OVERHEAD + r.key.length + r.value.length;
}

function costOps(ops: readonly RequestOp[]): number {
  let n = 0;
  // As etcd: only the puts of this level count (a nested txn's puts do not).
  for (const op of ops) if (op.requestPut) n += costPut(op.requestPut);
  return n;
}

/** The costlier branch's puts. */
export function costTxn(r: TxnRequest): number {
  return Math.max(costOps(r.success), costOps(r.failure));
}

export function costLeaseGrant(): number {
  return LEASE_OVERHEAD;
}

/** The quota in force for a --quota-backend-bytes value: 0 or unset is etcd's default; < 0 disables it. */
export function quotaBytes(configured: number | undefined): number {
  return !configured ? DEFAULT_QUOTA_BYTES : configured;
}

/** go-humanize's Bytes (SI units), as etcd logs sizes: 2147483648 -> "2.1 GB". */
export function humanizeBytes(n: number): string {
  if (n < 10) return `${n} B`;
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB'];
  const e = Math.floor(Math.log(n) / Math.log(1000));
  const val = Math.floor((n / 1000 ** e) * 10 + 0.5) / 10;
  return `${val < 10 ? val.toFixed(1) : val.toFixed(0)} ${units[e]}`;
}

/** etcd's start-up line about the quota (NewBackendQuota, logged once, as "v3-applier"). */
export function logQuota(log: Logger, configured: number | undefined): void {
  const name = 'v3-applier';
  const c = configured ?? 0;
  if (c < 0) {
    log.info({ 'quota-name': name, 'quota-size-bytes': c }, 'disabled backend quota');
    return;
  }
  if (c === 0) {
    log.info(
      {
        'quota-name': name,
        'quota-size-bytes': DEFAULT_QUOTA_BYTES,
        'quota-size': humanizeBytes(DEFAULT_QUOTA_BYTES),
      },
      'enabled backend quota with default value',
    );
    return;
  }
  if (c > MAX_QUOTA_BYTES) {
    log.warn(
      {
        'quota-name': name,
        'quota-size-bytes': c,
        'quota-size': humanizeBytes(c),
        'quota-maximum-size-bytes': MAX_QUOTA_BYTES,
        'quota-maximum-size': humanizeBytes(MAX_QUOTA_BYTES),
      },
      'quota exceeds the maximum value',
    );
  }
  log.info(
    { 'quota-name': name, 'quota-size-bytes': c, 'quota-size': humanizeBytes(c) },
    'enabled backend quota',
  );
}

export interface QuotaDeps {
  /** The quota in bytes; < 0: no quota. */
  bytes: number;
  /** The backend's size as the quota counts it (bytes in use). */
  size(): number;
  now(): number;
  /** How long a size read is reused, ms (default 50). */
  refreshMs?: number;
}

/** etcd's backendQuota (or its passthroughQuota when the quota is negative). */
export class Quota {
  readonly bytes: number;
  private cached = 0;
  private readAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly deps: QuotaDeps) {
    this.bytes = deps.bytes;
  }

  get enabled(): boolean {
    return this.bytes >= 0;
  }

  /** Whether a request costing `cost` fits: a request that adds nothing always does. */
  available(cost: number): boolean {
    if (cost === 0 || !this.enabled) return true;
    return this.size() + cost < this.bytes;
  }

  remaining(): number {
    return this.enabled ? this.bytes - this.size() : 1;
  }

  private size(): number {
    const now = this.deps.now();
    if (now - this.readAt >= (this.deps.refreshMs ?? 50)) {
      this.cached = this.deps.size();
      this.readAt = now;
    }
    return this.cached;
  }
}

const AlarmRequestPb = messageType('etcdserverpb.AlarmRequest');
const ALARM_ACTIVATE = 1;

/** What raising an alarm needs: a proposal through the log. */
export interface AlarmProposer {
  propose(op: Op, raw: Uint8Array, req: unknown): Promise<unknown>;
}

/** Proposes ACTIVATE NOSPACE for `memberId`; settles when applied (or failed: the outcome is not used). */
export function raiseNoSpace(proposer: AlarmProposer, memberId: bigint): Promise<void> {
  const req = { action: ALARM_ACTIVATE, memberID: fromBigInt(memberId, true), alarm: AlarmType.NOSPACE };
  return proposer.propose(Op.Alarm, AlarmRequestPb.encode(req).finish(), req).then(
    () => undefined,
    () => undefined,
  );
}

/**
 * etcd's quotaAlarmer: the check the commands make before proposing. Undefined when the request fits;
 * otherwise raises NOSPACE for this member and rejects with ErrNoSpace once that is done.
 */
export class QuotaGate {
  constructor(
    private readonly quota: Quota,
    private readonly proposer: AlarmProposer,
    private readonly memberId: bigint,
  ) {}

  check(cost: number): Promise<never> | undefined {
    if (this.quota.available(cost)) return undefined;
    return raiseNoSpace(this.proposer, this.memberId).then(() => {
      throw new ErrNoSpace();
    });
  }
}
