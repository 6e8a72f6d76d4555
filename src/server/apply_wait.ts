// Waits for the applied index to reach a given index (etcd's applyWait), bounded in time: a simple
// auth token names the index of the entry that assigned it, and a member that has not applied that far
// yet waits for it before it looks the token up.

interface Pending {
  index: number;
  deadline: number;
  resolve(ok: boolean): void;
}

export class ApplyWait {
  private pending: Pending[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly applied: () => number,
    private readonly timeoutMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** undefined when `index` is applied already; else resolves true once it is, false at the timeout. */
  wait(index: number): Promise<boolean> | undefined {
    if (this.applied() >= index) return undefined;
    return new Promise<boolean>((resolve) => {
      this.pending.push({ index, deadline: this.now() + this.timeoutMs, resolve });
      if (!this.timer) {
        this.timer = setInterval(() => this.expire(), 100);
        this.timer.unref();
      }
    });
  }

  /** The applied index moved. */
  onApplied(applied: number): void {
    if (this.pending.length === 0) return;
    this.pending = this.pending.filter((p) => {
      if (p.index > applied) return true;
      p.resolve(true);
      return false;
    });
    this.idle();
  }

  private expire(): void {
    const now = this.now();
    this.pending = this.pending.filter((p) => {
      if (p.deadline > now) return true;
      p.resolve(false);
      return false;
    });
    this.idle();
  }

  private idle(): void {
    if (this.pending.length > 0 || !this.timer) return;
    clearInterval(this.timer);
    this.timer = undefined;
  }

  close(): void {
    for (const p of this.pending) p.resolve(false);
    this.pending = [];
    this.idle();
  }
}
