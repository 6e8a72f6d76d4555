// The leader's view of one follower: how far its log matches, what to send next, and the flow-control
// state. All state transitions live here (raft.ts calls these methods instead of editing fields).
import type { NodeId } from '../raftpb.ts';
import { compareIds } from '../quorum/quorum.ts';
import { Inflights } from './inflights.ts';

export enum ProgressStateType {
  /** Unknown follower log: send one MsgApp per heartbeat and find the match point. */
  StateProbe = 0,
  /** Follower is in sync: stream entries optimistically, bounded by the inflights window. */
  StateReplicate = 1,
  /** Follower needs a snapshot; no MsgApps until it has applied one. */
  StateSnapshot = 2,
}

export class Progress {
  /** Highest index known to match the leader's log. Invariant: match < next. */
  match: number;
  /** Next index to send. Entries in (match, next) are in flight. */
  next: number;
  /** Highest commit index sent to the follower (tracked up to next-1). Invariant: sentCommit < next. */
  sentCommit = 0;
  state: ProgressStateType = ProgressStateType.StateProbe;
  /** In StateSnapshot: the leader's last index when it decided the snapshot was needed. */
  pendingSnapshot = 0;
  /** Set on any message from the follower; cleared by the leader each election timeout (checkQuorum). */
  recentActive = false;
  /** When true, no further probe / empty MsgApp is sent until something unpauses it. */
  msgAppFlowPaused = false;
  inflights: Inflights;
  isLearner: boolean;

  constructor(opts: {
    match?: number;
    next: number;
    inflights: Inflights;
    isLearner?: boolean;
    recentActive?: boolean;
    sentCommit?: number;
  }) {
    this.match = opts.match ?? 0;
    this.next = opts.next;
    this.inflights = opts.inflights;
    this.isLearner = opts.isLearner ?? false;
    this.recentActive = opts.recentActive ?? false;
    this.sentCommit = opts.sentCommit ?? 0;
  }

  /** A deep copy (own Inflights), so config changes never alias the tracker they came from. */
  clone(): Progress {
    const p = new Progress({ match: this.match, next: this.next, inflights: this.inflights.clone() });
    p.sentCommit = this.sentCommit;
    p.state = this.state;
    p.pendingSnapshot = this.pendingSnapshot;
    p.recentActive = this.recentActive;
    p.msgAppFlowPaused = this.msgAppFlowPaused;
    p.isLearner = this.isLearner;
    return p;
  }

  /** Enters `state` with flow unpaused, no pending snapshot and an empty inflights window. */
  resetState(state: ProgressStateType): void {
    this.msgAppFlowPaused = false;
    this.pendingSnapshot = 0;
    this.state = state;
    this.inflights.reset();
  }

  /** To StateProbe. Coming from a snapshot, probing resumes after the snapshot index if that is higher. */
  becomeProbe(): void {
    if (this.state === ProgressStateType.StateSnapshot) {
      const snap = this.pendingSnapshot;
      this.resetState(ProgressStateType.StateProbe);
      this.next = Math.max(this.match + 1, snap + 1);
    } else {
      this.resetState(ProgressStateType.StateProbe);
      this.next = this.match + 1;
      this.sentCommit = Math.min(this.sentCommit, this.match);
    }
  }

  becomeReplicate(): void {
    this.resetState(ProgressStateType.StateReplicate);
    this.next = this.match + 1;
    this.sentCommit = Math.min(this.sentCommit, this.match);
  }

  becomeSnapshot(snapshoti: number): void {
    this.resetState(ProgressStateType.StateSnapshot);
    this.pendingSnapshot = snapshoti;
  }

  /**
   * Records a MsgApp carrying `entries` entries (total `bytes`) starting at next. In StateReplicate the
   * window advances optimistically; in any state the probe flow pauses until a response.
   */
  sentEntries(entries: number, bytes: number): void {
    if (this.state === ProgressStateType.StateReplicate && entries > 0) {
      this.next += entries;
      this.inflights.add(this.next - 1, bytes);
    }
    this.msgAppFlowPaused = true;
  }

  /** Whether flow control allows sending at least one entry (probe or replicate only). */
  canSendEntries(lastIndex: number): boolean {
    return this.next <= lastIndex && (this.state === ProgressStateType.StateProbe || !this.inflights.full());
  }

  /** Whether sending commit `index` could move the follower's commit forward. */
  canBumpCommit(index: number): boolean {
    return this.sentCommit < Math.min(index, this.next - 1);
  }

  /** Records that commit index `commit` was sent (named set* because sentCommit is the field). */
  setSentCommit(commit: number): void {
    this.sentCommit = Math.min(Math.max(this.sentCommit, commit), this.next - 1);
  }

  /** An MsgAppResp acked `n`. False if it is stale (n <= match). */
  maybeUpdate(n: number): boolean {
    if (n <= this.match) return false;
    this.match = n;
    this.next = Math.max(this.next, n + 1);
    return true;
  }

  /**
   * An MsgApp at index `rejected` was refused; the follower hints its log may match up to `matchHint`.
   * Returns false (and changes nothing) if the rejection is stale.
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === ProgressStateType.StateReplicate) {
      // Already acked at or past `rejected`: a reordered or duplicate rejection.
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      this.sentCommit = Math.min(this.sentCommit, this.match);
      return true;
    }
    // Probing sends one MsgApp at next-1; a rejection of anything else is out of date.
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1);
    this.sentCommit = Math.min(this.sentCommit, this.next - 1);
    this.msgAppFlowPaused = false;
    return true;
  }

  /** Whether sending to this follower is throttled (probe paused, window full, or awaiting a snapshot). */
  isPaused(): boolean {
    switch (this.state) {
      case ProgressStateType.StateProbe:
        return this.msgAppFlowPaused;
      case ProgressStateType.StateReplicate:
        return this.msgAppFlowPaused && this.inflights.full();
      case ProgressStateType.StateSnapshot:
        return true;
    }
  }

  /** Whether the leader should send a MsgApp now, given its last index and commit index. */
  shouldSendMsgApp(last: number, commit: number): boolean {
    switch (this.state) {
      case ProgressStateType.StateProbe:
        return !this.msgAppFlowPaused;
      case ProgressStateType.StateReplicate:
        return (
          this.canBumpCommit(commit) ||
          (this.match < last && (!this.msgAppFlowPaused || this.canSendEntries(last)))
        );
      case ProgressStateType.StateSnapshot:
        return false;
    }
  }

  /** `StateReplicate match=5 next=6 learner paused pendingSnap=3 inactive inflight=2[full]` (parts as applicable). */
  toString(): string {
    let s = `${ProgressStateType[this.state]} match=${this.match} next=${this.next}`;
    if (this.isLearner) s += ' learner';
    if (this.isPaused()) s += ' paused';
    if (this.pendingSnapshot > 0) s += ` pendingSnap=${this.pendingSnapshot}`;
    if (!this.recentActive) s += ' inactive';
    const n = this.inflights.count();
    if (n > 0) s += ` inflight=${n}${this.inflights.full() ? '[full]' : ''}`;
    return s;
  }
}

export type ProgressMap = Map<NodeId, Progress>;

/** One `id: progress` line per node, ids ascending. */
export function progressMapString(m: ProgressMap): string {
  return [...m.keys()]
    .sort(compareIds)
    .map((id) => `${id}: ${String(m.get(id))}\n`)
    .join('');
}
