// The leader's lease duties, on a timer: propose the revocation of expired leases (every 500 ms, as
// etcd) and checkpoint remaining TTLs through the log so they survive a leader change.
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

  checkpoint(): void {
    const cps = this.deps.lessor.checkpoints();
    if (cps.length === 0) return;
    this.deps.checkpoint(cps).catch((err: unknown) => this.deps.log.warn({ err }, 'lease checkpoint failed'));
  }

  close(): void {
    for (const t of this.timers.splice(0)) clearInterval(t);
  }
}
