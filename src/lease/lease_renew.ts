// Keep-alives on the leader. A renewal is answered only once the log holds it: a new leader knows only
// what it applied, so an answer must never promise more. Renewals are batched: one LeaseCheckpoint entry
// (remaining_TTL 0 per lease: the full TTL runs from when a member applies it) carries every lease
// renewed while the previous batch was on its way, so a busy cluster does not write an entry per
// keep-alive. A lone voter, which no failover can replace, renews in memory and answers at once; it
// writes only to clear a checkpointed remainder (or its restart would give the lease that remainder).
import type { Lessor } from './lessor.ts';

export interface LeaseRenewDeps {
  lessor: Lessor;
  /** True when this member is the only voter (no other member can become leader). */
  soleVoter(): boolean;
  /** Proposes one LeaseCheckpoint entry; resolves once it is applied here. */
  checkpoint(cps: { id: bigint; remainingTtl: number }[]): Promise<unknown>;
  /** Runs `fn` after the current event-loop turn (default setImmediate; tests step it by hand). */
  defer?: (fn: () => void) => void;
}

interface Batch {
  ids: Set<bigint>;
  done: Promise<void>;
  settle(err?: unknown): void;
}

function newBatch(): Batch {
  let settle!: (err?: unknown) => void;
  const done = new Promise<void>((resolve, reject) => {
    settle = (err) => (err === undefined ? resolve() : reject(err));
  });
  return { ids: new Set(), done, settle };
}

export class LeaseRenewals {
  /** Renewals waiting for the next entry. */
  private next: Batch | undefined;
  private inFlight = false;

  constructor(private readonly deps: LeaseRenewDeps) {}

  /** Renews the lease: its TTL (once the log holds the renewal), or undefined for an unknown lease. */
  renew(id: bigint): number | undefined | Promise<number | undefined> {
    const { lessor } = this.deps;
    const ttl = lessor.renew(id);
    if (ttl === undefined) return undefined;
    if (this.deps.soleVoter()) {
      if (!lessor.hasCheckpoint(id)) return ttl;
      return this.deps.checkpoint([{ id, remainingTtl: 0 }]).then(() => ttl);
    }
    // Revoked while the renewal was on its way: answered as an unknown lease (TTL 0), as etcd does.
    return this.enqueue(id).then(() => (lessor.exists(id) ? ttl : undefined));
  }

  private enqueue(id: bigint): Promise<void> {
    let b = this.next;
    if (!b) {
      b = this.next = newBatch();
      // Keep-alives read in the same event-loop turn share the entry.
      if (!this.inFlight) (this.deps.defer ?? setImmediate)(() => this.flush());
    }
    b.ids.add(id);
    return b.done;
  }

  private flush(): void {
    const b = this.next;
    if (!b || this.inFlight) return;
    this.next = undefined;
    this.inFlight = true;
    const cps = [...b.ids].map((id) => ({ id, remainingTtl: 0 }));
    this.deps
      .checkpoint(cps)
      .then(
        () => b.settle(),
        (err: unknown) => b.settle(err ?? new Error('lease renewal failed')),
      )
      .finally(() => {
        this.inFlight = false;
        this.flush();
      });
  }
}
