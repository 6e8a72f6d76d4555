// The lessor: leases, their TTLs and the keys attached to them, on an injected monotonic clock. Grant,
// revoke and checkpoint are applied from the log, and every member keeps each lease's deadline on its
// own clock: the time it applied the lease's last grant or checkpoint plus the TTL that entry carries.
// A member applies an entry after the leader proposed it, so its deadline is never earlier than the
// leader's; a new leader expires leases at the deadlines it already holds (no reset, no extra time).
// Renewal and expiry run on the leader: a renewal reaches the log as a checkpoint of 0 (the full TTL),
// and only on a lone voter, which no failover can replace, is a renewal kept in memory alone.
import { counts, leaseTtl } from '../pkg/metrics.ts';

export const MAX_LEASE_TTL = 9_000_000_000;

/** What the lessor needs from the store: delete keys (in the caller's write txn) and persist leases. */
export interface LeaseStore {
  save(l: { id: bigint; ttl: number; remainingTtl: number }): void;
  remove(id: bigint): void;
}

export interface LessorOptions {
  /** Milliseconds, monotonic. */
  now: () => number;
  /** Smallest TTL granted, in seconds (etcd: ceil(1.5 x election timeout)). */
  minTtl: number;
  store: LeaseStore;
}

export class Lease {
  readonly keys = new Set<string>();

  constructor(
    readonly id: bigint,
    public ttl: number,
    /** When the lease expires, ms on this member's clock (only the leader acts on it). */
    public expiry: number,
    /** Remaining TTL recorded by the last checkpoint, seconds; 0 = none (use ttl). */
    public remainingTtl = 0,
  ) {}
}

export class Lessor {
  private readonly leases = new Map<bigint, Lease>();
  /** key (latin1) -> the lease it is attached to. */
  private readonly itemMap = new Map<string, bigint>();
  private primary = false;

  constructor(private readonly opts: LessorOptions) {}

  isPrimary(): boolean {
    return this.primary;
  }

  /**
   * Restores a persisted lease (at startup, or from a leader's snapshot): it runs its recorded remainder
   * from now, so time the member was down is not counted (etcd does the same).
   */
  restore(id: bigint, ttl: number, remainingTtl: number): void {
    const expiry = this.opts.now() + (remainingTtl || ttl) * 1000;
    this.leases.set(id, new Lease(id, ttl, expiry, remainingTtl));
  }

  lookup(id: bigint): Lease | undefined {
    return this.leases.get(id);
  }

  exists(id: bigint): boolean {
    return this.leases.has(id);
  }

  /** Applied from the log. Returns the lease (its ttl raised to the minimum if needed). */
  grant(id: bigint, ttl: number): Lease {
    const full = Math.max(ttl, this.opts.minTtl);
    const l = new Lease(id, full, this.opts.now() + full * 1000);
    this.leases.set(id, l);
    counts.leaseGranted++;
    leaseTtl.observe(full);
    this.opts.store.save({ id, ttl: l.ttl, remainingTtl: 0 });
    return l;
  }

  /** Applied from the log: forgets the lease and returns the keys the caller must delete. */
  revoke(id: bigint): string[] | undefined {
    const l = this.leases.get(id);
    if (!l) return undefined;
    counts.leaseRevoked++;
    this.leases.delete(id);
    this.opts.store.remove(id);
    for (const k of l.keys) this.itemMap.delete(k);
    return [...l.keys].sort();
  }

  /**
   * Leader: restarts the lease's TTL from now (never shortening it). Returns the TTL, or undefined if
   * there is no such lease. Only this member knows of it: with other voters the caller must put it in the
   * log (a checkpoint of 0) before answering; a lone voter must still clear a checkpointed remainder that
   * way (see hasCheckpoint), or its restart would give the lease only that remainder.
   */
  renew(id: bigint): number | undefined {
    const l = this.leases.get(id);
    if (!l) return undefined;
    l.expiry = Math.max(l.expiry, this.opts.now() + l.ttl * 1000);
    counts.leaseRenewed++;
    return l.ttl;
  }

  /** True when a checkpointed remaining TTL is recorded for the lease (a renewal must clear it). */
  hasCheckpoint(id: bigint): boolean {
    return (this.leases.get(id)?.remainingTtl ?? 0) > 0;
  }

  /**
   * Applied from the log: records the remaining TTL the leader saw (rounded up to whole seconds); 0 is a
   * renewal (the full TTL runs). A follower's deadline becomes now + that TTL: later than the leader's,
   * which was at most that much away when it proposed the entry. The leader's own deadline is already
   * exact: a renewal only keeps it from falling below now + TTL, a TTL checkpoint leaves it alone.
   */
  checkpoint(id: bigint, remainingTtl: number): void {
    const l = this.leases.get(id);
    if (!l) return;
    l.remainingTtl = remainingTtl;
    this.opts.store.save({ id, ttl: l.ttl, remainingTtl });
    const runs = this.opts.now() + (remainingTtl || l.ttl) * 1000;
    if (!this.primary) l.expiry = runs;
    else if (remainingTtl === 0) l.expiry = Math.max(l.expiry, runs);
  }

  attach(id: bigint, key: string): void {
    const l = this.leases.get(id);
    if (!l) return;
    l.keys.add(key);
    this.itemMap.set(key, id);
  }

  detach(id: bigint, key: string): void {
    this.leases.get(id)?.keys.delete(key);
    if (this.itemMap.get(key) === id) this.itemMap.delete(key);
  }

  leaseOf(key: string): bigint | undefined {
    return this.itemMap.get(key);
  }

  /**
   * This member leads and has applied every entry of earlier terms: it expires leases at the deadlines
   * it holds (etcd 3.4 instead restarts every lease's remainder and adds an election timeout).
   */
  promote(): void {
    this.primary = true;
  }

  /** No longer the leader: deadlines are kept (and follow the log), nothing expires here. */
  demote(): void {
    this.primary = false;
  }

  /** Seconds left (rounded up), -1 if unknown. */
  remaining(id: bigint): number {
    const l = this.leases.get(id);
    if (!l) return -1;
    return Math.max(0, Math.ceil((l.expiry - this.opts.now()) / 1000));
  }

  /**
   * Whole seconds left as etcd's TimeToLive reports them: truncated toward zero (int64 of a float), so
   * a lease of 100 s asked right after its grant has 99; -1 if unknown.
   */
  timeToLive(id: bigint): number {
    const l = this.leases.get(id);
    if (!l) return -1;
    return Math.trunc((l.expiry - this.opts.now()) / 1000);
  }

  /** Leader only: ms until the next lease not in `skip` expires (0 if one is due); Infinity if none. */
  untilNextExpiry(skip: ReadonlySet<bigint>): number {
    if (!this.primary) return Infinity;
    let next = Infinity;
    for (const l of this.leases.values()) if (l.expiry < next && !skip.has(l.id)) next = l.expiry;
    return Math.max(0, next - this.opts.now());
  }

  /** Leader only: leases whose time is up (the caller proposes their revocation), at most `limit`. */
  expired(limit = 1000): bigint[] {
    if (!this.primary) return [];
    const now = this.opts.now();
    const out: bigint[] = [];
    for (const l of this.leases.values()) {
      if (l.expiry <= now) out.push(l.id);
      if (out.length >= limit) break;
    }
    return out;
  }

  /** Leader only: checkpoints worth persisting (remaining TTL differs from what the log has). */
  checkpoints(limit = 1000): { id: bigint; remainingTtl: number }[] {
    if (!this.primary) return [];
    const out: { id: bigint; remainingTtl: number }[] = [];
    for (const l of this.leases.values()) {
      const rem = this.remaining(l.id);
      if (rem > 0 && rem !== (l.remainingTtl || l.ttl)) out.push({ id: l.id, remainingTtl: rem });
      if (out.length >= limit) break;
    }
    return out;
  }

  ids(): bigint[] {
    return [...this.leases.keys()];
  }
}
