// Proposals and their waiters: a client request gets an id, goes into the log, and its promise is
// settled by whoever applies the entry carrying that id.
import type { Op } from './raft_request.ts';
import { encodeRaftRequest } from './raft_request.ts';
import { ErrStopped, ErrTooManyRequests } from './errors.ts';

export interface Waiter {
  decoded: unknown;
  resolve(v: unknown): void;
  reject(e: unknown): void;
}

export interface LogSink {
  propose(data: Uint8Array): void;
  pending(): number;
}

/** Backpressure: beyond this many proposals waiting for the log, new ones are refused. */
const MAX_PENDING = 100_000;

export class Proposer {
  private readonly waits = new Map<bigint, Waiter>();
  private nextId: bigint;
  private stopped = false;

  constructor(
    private readonly log: LogSink,
    memberId: bigint,
    now: number,
  ) {
    // Unique across restarts of this member: member bits, then time, then a counter (etcd's idutil).
    this.nextId = ((memberId & 0xffffn) << 48n) | (BigInt(now & 0xffffffffff) << 8n);
  }

  propose<T>(op: Op, raw: Uint8Array, decoded: unknown): Promise<T> {
    if (this.stopped) return Promise.reject(new ErrStopped());
    if (this.log.pending() > MAX_PENDING) return Promise.reject(new ErrTooManyRequests());
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.waits.set(id, { decoded, resolve: resolve as (v: unknown) => void, reject });
      this.log.propose(encodeRaftRequest(id, op, raw));
    });
  }

  /** The waiter of `id` if this member proposed it and still waits (removed on return). */
  take(id: bigint): Waiter | undefined {
    const w = this.waits.get(id);
    if (w) this.waits.delete(id);
    return w;
  }

  failAll(err: unknown): void {
    this.stopped = true;
    for (const w of this.waits.values()) w.reject(err);
    this.waits.clear();
  }
}
