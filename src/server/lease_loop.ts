// The leader's lease duties, on a timer: propose the revocation of expired leases (every 500 ms, as
// etcd) and checkpoint remaining TTLs through the log so they survive a leader change or a restart.
import type { Lessor } from '../lease/lessor.ts';
import type { Logger } from '../pkg/logger.ts';

export interface LeaseLoopDeps {
  lessor: Lessor;
  revoke(id: bigint): Promise<unknown>;
  checkpoint(cps: { id: bigint; remainingTtl: number }[]): Promise<unknown>;
  log: Logger;
}

export const EXPIRY_CHECK_MS = 500;
export const CHECKPOINT_MS = 5_000;

export class LeaseLoop {
  private readonly revoking = new Set<bigint>();
  private readonly timers: NodeJS.Timeout[] = [];

  constructor(private readonly deps: LeaseLoopDeps) {}

  start(): void {
    this.timers.push(setInterval(() => this.revokeExpired(), EXPIRY_CHECK_MS).unref());
    this.timers.push(setInterval(() => this.checkpoint(), CHECKPOINT_MS).unref());
  }

  revokeExpired(): void {
    for (const id of this.deps.lessor.expired()) {
      if (this.revoking.has(id)) continue;
      this.revoking.add(id);
      this.deps
        .revoke(id)
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
   * synchronously; the server stops its log driver after this and drains it, so the checkpoint is
   * written and applied before the member exits. After a crash, leases keep the remaining TTL of the
   * last periodic checkpoint (at most CHECKPOINT_MS old: later, never earlier, than the true expiry).
   */
  close(): void {
    if (this.timers.length === 0) return;
    for (const t of this.timers.splice(0)) clearInterval(t);
    this.checkpoint(Infinity);
  }
}
