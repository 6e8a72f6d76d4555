// The leader's lease duties, on timers: propose the revocation of expired leases (checked when the next
// deadline is due, and at least every 500 ms as etcd does) and checkpoint remaining TTLs through the log
// so they survive a leader change or a restart.
import type { Lessor } from './lessor.ts';
import type { Logger } from '../pkg/logger.ts';
import { counts } from '../pkg/metrics.ts';

export interface LeaseLoopDeps {
  lessor: Lessor;
  revoke(id: bigint): Promise<unknown>;
  checkpoint(cps: { id: bigint; remainingTtl: number }[]): Promise<unknown>;
  log: Logger;
}

export const EXPIRY_CHECK_MS = 500;
/** A member that does not lead looks this often whether it was promoted (its deadlines may be due). */
export const PROMOTE_POLL_MS = 100;
/** Shortest wait between two expiry checks (a failed revocation is retried no faster). */
export const MIN_CHECK_MS = 10;
export const CHECKPOINT_MS = 5_000;

export class LeaseLoop {
  private readonly revoking = new Set<bigint>();
  private expiryTimer: NodeJS.Timeout | undefined;
  private checkpointTimer: NodeJS.Timeout | undefined;
  private running = false;

  constructor(private readonly deps: LeaseLoopDeps) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.checkpointTimer = setInterval(() => this.checkpoint(), CHECKPOINT_MS).unref();
    this.scheduleExpiry();
  }

  /** ms until the next expiry check: when the next deadline is due, bounded by the polling periods. */
  nextCheckMs(): number {
    const { lessor } = this.deps;
    if (!lessor.isPrimary()) return PROMOTE_POLL_MS;
    const due = Math.ceil(lessor.untilNextExpiry(this.revoking));
    return Math.min(EXPIRY_CHECK_MS, Math.max(MIN_CHECK_MS, due));
  }

  private scheduleExpiry(): void {
    this.expiryTimer = setTimeout(() => {
      this.revokeExpired();
      if (this.running) this.scheduleExpiry();
    }, this.nextCheckMs()).unref();
  }

  revokeExpired(): void {
    for (const id of this.deps.lessor.expired()) {
      if (this.revoking.has(id)) continue;
      this.revoking.add(id);
      this.deps
        .revoke(id)
        .then(() => counts.leaseExpired++)
        .catch((err: unknown) => this.deps.log.debug({ err, lease: id.toString(16) }, 'lease revoke failed'))
        .finally(() => this.revoking.delete(id));
    }
  }

  checkpoint(limit = 1000): void {
    const cps = this.deps.lessor.checkpoints(limit);
    if (cps.length === 0) return;
    this.deps.checkpoint(cps).catch((err: unknown) => this.deps.log.warn({ err }, 'lease checkpoint failed'));
  }

  /**
   * Stops the timers and checkpoints every lease that moved since the last checkpoint, so a restart
   * gives each lease the TTL it had left at shutdown (no reset to the full TTL). The proposal is queued
   * synchronously; the member stops its raft node after this and drains it, so the checkpoint is
   * written and applied before the member exits. After a crash, leases keep the remaining TTL of the
   * last periodic checkpoint (at most CHECKPOINT_MS old: later, never earlier, than the true expiry).
   */
  close(): void {
    if (!this.running) return;
    this.running = false;
    clearTimeout(this.expiryTimer);
    clearInterval(this.checkpointTimer);
    this.checkpoint(Infinity);
  }
}
