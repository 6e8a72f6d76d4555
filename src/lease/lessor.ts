// The lessor: leases, their TTLs and the keys attached to them. Grant, revoke and checkpoint are
// applied from the log (so every member agrees); renew and expiry run only on the leader, with an
// injected clock. Checkpoints carry each lease's remaining TTL through the log, so a new leader
// neither resets a TTL to full nor expires a lease early.

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
  /** When the lease expires (ms on the lessor's clock); Infinity on a member that is not the leader. */
  expiry = Infinity;
  readonly keys = new Set<string>();

  constructor(
    readonly id: bigint,
    public ttl: number,
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

  /** Restores a persisted lease at startup. */
  restore(id: bigint, ttl: number, remainingTtl: number): void {
    this.leases.set(id, new Lease(id, ttl, remainingTtl));
  }

  lookup(id: bigint): Lease | undefined {
    return this.leases.get(id);
  }

  exists(id: bigint): boolean {
    return this.leases.has(id);
  }

  /** Applied from the log. Returns the lease (its ttl raised to the minimum if needed). */
  grant(id: bigint, ttl: number): Lease {
    const l = new Lease(id, Math.max(ttl, this.opts.minTtl));
    if (this.primary) l.expiry = this.opts.now() + l.ttl * 1000;
    this.leases.set(id, l);
    this.opts.store.save({ id, ttl: l.ttl, remainingTtl: 0 });
    return l;
  }

  /** Applied from the log: forgets the lease and returns the keys the caller must delete. */
  revoke(id: bigint): string[] | undefined {
    const l = this.leases.get(id);
    if (!l) return undefined;
    this.leases.delete(id);
    this.opts.store.remove(id);
    for (const k of l.keys) this.itemMap.delete(k);
    return [...l.keys].sort();
  }

  /**
   * Leader only: restarts the lease's TTL. Returns the TTL, or undefined if there is no such lease.
   * A checkpointed remainder it supersedes is still recorded on every member: the caller must clear it
   * through the log (a checkpoint of 0, see hasCheckpoint) or a new leader would expire the lease early.
   */
  renew(id: bigint): number | undefined {
    const l = this.leases.get(id);
    if (!l) return undefined;
    if (this.primary) l.expiry = this.opts.now() + l.ttl * 1000;
    return l.ttl;
  }

  /** True when a checkpointed remaining TTL is recorded for the lease (a renewal must clear it). */
  hasCheckpoint(id: bigint): boolean {
    return (this.leases.get(id)?.remainingTtl ?? 0) > 0;
  }

  /** Applied from the log: records the remaining TTL the leader saw; 0 clears it (the full TTL runs). */
  checkpoint(id: bigint, remainingTtl: number): void {
    const l = this.leases.get(id);
    if (!l) return;
    l.remainingTtl = remainingTtl;
    this.opts.store.save({ id, ttl: l.ttl, remainingTtl });
    if (this.primary) l.expiry = this.opts.now() + (remainingTtl || l.ttl) * 1000;
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

  /** This member became leader: every lease runs from now with its remaining (or full) TTL. */
  promote(extraMs = 0): void {
    this.primary = true;
    const now = this.opts.now();
    for (const l of this.leases.values()) l.expiry = now + (l.remainingTtl || l.ttl) * 1000 + extraMs;
  }

  demote(): void {
    this.primary = false;
    for (const l of this.leases.values()) l.expiry = Infinity;
  }

  /** Seconds left (rounded up), -1 if unknown; on a non-leader the granted TTL. */
  remaining(id: bigint): number {
    const l = this.leases.get(id);
    if (!l) return -1;
    if (!this.primary) return l.remainingTtl || l.ttl;
    return Math.max(0, Math.ceil((l.expiry - this.opts.now()) / 1000));
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
