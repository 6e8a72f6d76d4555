// Commits the backend in batches, like etcd's backend batch interval and limit: a write applied from the
// log asks for a commit, which happens BATCH_INTERVAL_MS later, or at once when BATCH_LIMIT writes are
// buffered. Reads see buffered writes; the WAL covers what a crash loses before the commit. A commit
// that fails is a durability failure: `fatal` stops the member.
import type { Backend } from './backend.ts';

export const BATCH_INTERVAL_MS = 20;
export const BATCH_LIMIT = 10_000;

export class BatchCommitter {
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly commitNow = (): void => {
    this.timer = undefined;
    if (this.closed) return;
    this.backend.commit().catch((err: unknown) => this.fatal(err));
  };

  constructor(
    private readonly backend: Backend,
    private readonly fatal: (err: unknown) => void,
    private readonly intervalMs = BATCH_INTERVAL_MS,
    private readonly limit = BATCH_LIMIT,
  ) {}

  /** After a batch of writes: commit soon, or now if the pending batch is full. */
  schedule(): void {
    if (this.closed) return;
    if (this.backend.pendingWrites() >= this.limit) {
      clearTimeout(this.timer);
      this.commitNow();
    } else if (!this.timer) {
      this.timer = setTimeout(this.commitNow, this.intervalMs);
    }
  }

  /** No more scheduled commits (the owner commits and closes the backend itself). */
  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
