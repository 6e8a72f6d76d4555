// Linearizable reads through ReadIndex, batched: every read that arrives while a round is in flight
// joins the next round, so one heartbeat round serves all of them. A read proceeds once this member
// has applied up to the index the leader confirmed; then it reads its local state.
import { ErrLeaderChanged, ErrStopped, ErrTimeout } from './errors.ts';

export interface ReadIndexDeps {
  /** Asks raft for a read index carrying `ctx`; the answer comes back through onReadState. */
  requestReadIndex(ctx: Uint8Array): void;
  /** This member is the only voter and leads: what it applied is linearizable without a round. */
  leadsAlone(): boolean;
  applied(): number;
  now(): number;
  /** How long one round may take before it is asked again (etcd retries every 500 ms). */
  retryMs: number;
  /** How long a read waits in total before it fails (the request timeout). */
  timeoutMs: number;
}

interface Pending {
  resolve(): void;
  reject(e: unknown): void;
}

interface Round {
  ctx: bigint;
  waiters: Pending[];
  started: number;
  sent: number;
}

export class ReadIndexer {
  private next: Pending[] = [];
  private round: Round | undefined;
  /** Rounds answered, waiting for the apply to catch up: index -> waiters. */
  private waiting: { index: number; waiters: Pending[] }[] = [];
  private seq = BigInt(Date.now()) << 16n;
  private stopped = false;

  constructor(private readonly deps: ReadIndexDeps) {}

  /** undefined when a local read is linearizable now; else a promise that resolves once it is. */
  barrier(): Promise<void> | undefined {
    return this.deps.leadsAlone() ? undefined : this.wait();
  }

  /** Resolves when a local read is linearizable. */
  wait(): Promise<void> {
    if (this.stopped) return Promise.reject(new ErrStopped());
    return new Promise((resolve, reject) => {
      this.next.push({ resolve, reject });
      if (!this.round) this.startRound();
    });
  }

  private startRound(): void {
    if (this.next.length === 0) return;
    const now = this.deps.now();
    this.round = { ctx: ++this.seq, waiters: this.next, started: now, sent: now };
    this.next = [];
    this.deps.requestReadIndex(ctxBytes(this.round.ctx));
  }

  /** The answers of a Ready. */
  onReadStates(rss: readonly { index: number; requestCtx: Uint8Array }[]): void {
    for (const rs of rss) this.onReadState(rs);
  }

  onReadState(rs: { index: number; requestCtx: Uint8Array }): void {
    const r = this.round;
    if (!r || rs.requestCtx.length !== 8) return;
    if (Buffer.from(rs.requestCtx).readBigUInt64BE(0) !== r.ctx) return;
    this.round = undefined;
    if (this.deps.applied() >= rs.index) for (const w of r.waiters) w.resolve();
    else this.waiting.push({ index: rs.index, waiters: r.waiters });
    this.startRound();
  }

  /** Called after every apply. */
  onApplied(applied: number): void {
    if (this.waiting.length === 0) return;
    const keep: typeof this.waiting = [];
    for (const g of this.waiting) {
      if (applied >= g.index) for (const w of g.waiters) w.resolve();
      else keep.push(g);
    }
    this.waiting = keep;
  }

  /** The leader changed: reads in flight fail like etcd's ("leader changed"); waiting ones go on. */
  onLeaderChange(): void {
    const r = this.round;
    if (!r) return;
    this.round = undefined;
    for (const w of r.waiters) w.reject(new ErrLeaderChanged());
    this.startRound();
  }

  /** Periodic: re-ask a round that got no answer (a lost message), fail one past the timeout. */
  tick(): void {
    const r = this.round;
    if (!r) return;
    const now = this.deps.now();
    if (now - r.started >= this.deps.timeoutMs) {
      this.round = undefined;
      for (const w of r.waiters) w.reject(new ErrTimeout());
      this.startRound();
    } else if (now - r.sent >= this.deps.retryMs) {
      r.sent = now;
      this.deps.requestReadIndex(ctxBytes(r.ctx));
    }
  }

  close(): void {
    this.stopped = true;
    const all = [...(this.round?.waiters ?? []), ...this.next, ...this.waiting.flatMap((g) => g.waiters)];
    this.round = undefined;
    this.next = [];
    this.waiting = [];
    for (const w of all) w.reject(new ErrStopped());
  }
}

function ctxBytes(ctx: bigint): Uint8Array {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt.asUintN(64, ctx));
  return b;
}
