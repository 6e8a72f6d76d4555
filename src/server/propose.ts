// Proposals and their waiters: a client request gets an id, goes into the log, and its promise is
// settled by whoever applies the entry carrying that id. A proposal that does not apply within the
// request timeout fails as etcd's does: one that reached raft (its entry was lost in a leader change, or
// the cluster lost its quorum after) with "request timed out"; one that never did (no leader all along)
// with the bare "context deadline exceeded" of etcd's blocked raft proposal.
import type { Op, RequestAuth } from './raft_request.ts';
import { encodeRaftRequest } from './raft_request.ts';
import {
  ErrProposeDeadline,
  ErrStopped,
  ErrTimeout,
  ErrTimeoutDueToLeaderFail,
  ErrTooManyRequests,
} from './errors.ts';
import { counts } from '../pkg/metrics.ts';

export interface Waiter {
  decoded: unknown;
  resolve(v: unknown): void;
  reject(e: unknown): void;
  deadline: number;
  /** Handed to raft: the log sink asked whether it was still wanted, with a leader to propose to. */
  proposed: boolean;
}

export interface LogSink {
  /**
   * Queues `data` for the log; `alive` says whether anyone still waits for it. The sink asks it only
   * when it is about to hand the proposal to raft, which needs a leader to take it.
   */
  propose(data: Uint8Array, alive: () => boolean): void;
  pending(): number;
}

/** Backpressure: beyond this many proposals waiting for the log, new ones are refused. */
const MAX_PENDING = 100_000;

export class Proposer {
  private readonly waits = new Map<bigint, Waiter>();
  private nextId: bigint;
  private stopped = false;
  private sweeper: NodeJS.Timeout | undefined;
  private lead = 0n;
  /** When this member last learned of a new leader (etcd's leadElectedTime). */
  private leadElectedAt = -Infinity;

  constructor(
    private readonly log: LogSink,
    memberId: bigint,
    now: number,
    private readonly timeoutMs = 7000,
    private readonly clock: () => number = () => performance.now(),
    private readonly electionMs = 1000,
  ) {
    // Unique across restarts of this member: member bits, then time, then a counter (etcd's idutil).
    // 40 bits of the time (BigInt arithmetic: a JS `&` would cut `now` to 32 signed bits).
    this.nextId = ((memberId & 0xffffn) << 48n) | ((BigInt(Math.floor(now)) & 0xffffffffffn) << 8n);
  }

  /** Starts the periodic check that fails proposals older than the request timeout. */
  startTimeouts(intervalMs = 250): void {
    this.sweeper = setInterval(() => this.expire(), intervalMs);
    this.sweeper.unref();
  }

  /** The leader this member knows of (soft state); a change to another leader is an election. */
  onLeader(lead: bigint): void {
    if (lead !== 0n && lead !== this.lead) this.leadElectedAt = this.clock();
    this.lead = lead;
  }

  /**
   * etcd's parseProposeCtxErr: a request that never reached raft times out with the bare context
   * error; one that did, and began within two election timeouts before a new leader was elected, was
   * probably lost with the old leader; any other, "request timed out".
   */
  private timeoutError(w: Waiter): Error {
    if (!w.proposed) return new ErrProposeDeadline();
    const start = w.deadline - this.timeoutMs;
    const elected = this.leadElectedAt;
    if (start > elected - 2 * this.electionMs && start < elected) return new ErrTimeoutDueToLeaderFail();
    return new ErrTimeout();
  }

  /** Fails every waiter past its deadline. */
  expire(): void {
    const now = this.clock();
    for (const [id, w] of this.waits) {
      if (w.deadline > now) continue;
      this.waits.delete(id);
      counts.proposalsFailed++;
      w.reject(this.timeoutError(w));
    }
  }

  /** Proposals waiting to be applied (etcd's proposals_pending). */
  waiting(): number {
    return this.waits.size;
  }

  /** `auth`: the caller's user and auth revision, for the entry's header (only with a token or a CN). */
  propose<T>(op: Op, raw: Uint8Array, decoded: unknown, auth?: RequestAuth): Promise<T> {
    if (this.stopped) return Promise.reject(new ErrStopped());
    if (this.log.pending() > MAX_PENDING) return Promise.reject(new ErrTooManyRequests());
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const w: Waiter = {
        decoded,
        resolve: resolve as (v: unknown) => void,
        reject,
        deadline: this.clock() + this.timeoutMs,
        proposed: false,
      };
      this.waits.set(id, w);
      this.log.propose(encodeRaftRequest(id, op, raw, auth), () => {
        if (this.waits.get(id) !== w) return false;
        w.proposed = true;
        return true;
      });
    });
  }

  /**
   * A waiter for something proposed by `submit` (a conf change) under a fresh id. It waits up to
   * `timeoutMs` (default: the request timeout; Infinity: until taken or failed).
   */
  register<T>(submit: (id: bigint) => void, timeoutMs = this.timeoutMs): Promise<T> {
    if (this.stopped) return Promise.reject(new ErrStopped());
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.waits.set(id, {
        decoded: undefined,
        resolve: resolve as (v: unknown) => void,
        reject,
        deadline: this.clock() + timeoutMs,
        proposed: true,
      });
      submit(id);
    });
  }

  /** Someone still waits for `id`. */
  isWaiting(id: bigint): boolean {
    return this.waits.has(id);
  }

  /** The waiter of `id` if this member proposed it and still waits (removed on return). */
  take(id: bigint): Waiter | undefined {
    const w = this.waits.get(id);
    if (w) this.waits.delete(id);
    return w;
  }

  failAll(err: unknown): void {
    this.stopped = true;
    clearInterval(this.sweeper);
    for (const w of this.waits.values()) w.reject(err);
    this.waits.clear();
  }
}
