// The leader's bookkeeping for the whole group: the active (possibly joint) configuration, one
// Progress per voter and learner, and the votes of the current election.
import type { ConfState, NodeId } from '../raftpb.ts';
import { JointConfig } from '../quorum/joint.ts';
import { MajorityConfig } from '../quorum/majority.ts';
import { type AckedIndexer, VoteResult, compareIds, sortedIds } from '../quorum/quorum.ts';
import type { Progress, ProgressMap } from './progress.ts';

export interface TrackerConfig {
  voters: JointConfig;
  /** While joint: leave the joint config automatically once it is committed. */
  autoLeave: boolean;
  /** Learners; never also voters in either half. */
  learners: Set<NodeId>;
  /**
   * Voters of the outgoing config being demoted to learners: they stay voters while joint (the sets must
   * not intersect) and become learners when the joint config is left.
   */
  learnersNext: Set<NodeId>;
}

export function emptyTrackerConfig(): TrackerConfig {
  return { voters: new JointConfig(), autoLeave: false, learners: new Set(), learnersNext: new Set() };
}

/** A copy sharing no sets with the original. */
export function cloneTrackerConfig(c: TrackerConfig): TrackerConfig {
  return {
    voters: c.voters.clone(),
    autoLeave: c.autoLeave,
    learners: new Set(c.learners),
    learnersNext: new Set(c.learnersNext),
  };
}

/** `voters=(1 2 3)&&(1 2) learners=(4) learners_next=(3) autoleave` (empty parts omitted). */
export function trackerConfigString(c: TrackerConfig): string {
  let s = `voters=${c.voters.toString()}`;
  if (c.learners.size > 0) s += ` learners=${new MajorityConfig(c.learners).toString()}`;
  if (c.learnersNext.size > 0) s += ` learners_next=${new MajorityConfig(c.learnersNext).toString()}`;
  if (c.autoLeave) s += ' autoleave';
  return s;
}

/** The ConfState describing a tracker config (all lists sorted). */
export function confStateOf(c: TrackerConfig): ConfState {
  return {
    voters: c.voters.incoming.slice(),
    votersOutgoing: c.voters.outgoing.slice(),
    learners: sortedIds(c.learners),
    learnersNext: sortedIds(c.learnersNext),
    autoLeave: c.autoLeave,
  };
}

/** Acked index = Progress.match. */
function matchAckIndexer(m: ProgressMap): AckedIndexer {
  return { ackedIndex: (id) => m.get(id)?.match };
}

export class ProgressTracker {
  config: TrackerConfig = emptyTrackerConfig();
  progress: ProgressMap = new Map();
  votes: Map<NodeId, boolean> = new Map();

  constructor(
    public maxInflight: number,
    public maxInflightBytes: number,
  ) {}

  confState(): ConfState {
    return confStateOf(this.config);
  }

  /** Exactly one voter and not joint. */
  isSingleton(): boolean {
    return this.config.voters.incoming.size === 1 && this.config.voters.outgoing.size === 0;
  }

  /** The highest index acknowledged by a quorum of voters (both halves while joint). */
  committed(): number {
    return this.config.voters.committedIndex(matchAckIndexer(this.progress));
  }

  /** Calls f for every tracked node, ids ascending, so callers emit messages in a deterministic order. */
  visit(f: (id: NodeId, pr: Progress) => void): void {
    for (const id of [...this.progress.keys()].sort(compareIds)) {
      const pr = this.progress.get(id);
      if (pr !== undefined) f(id, pr);
    }
  }

  /** Whether a quorum of voters has been recently active (learners do not count). */
  quorumActive(): boolean {
    const active = new Map<NodeId, boolean>();
    this.visit((id, pr) => {
      if (!pr.isLearner) active.set(id, pr.recentActive);
    });
    return this.config.voters.voteResult(active) === VoteResult.VoteWon;
  }

  voterNodes(): NodeId[] {
    return sortedIds(this.config.voters.ids());
  }

  learnerNodes(): NodeId[] {
    return sortedIds(this.config.learners);
  }

  resetVotes(): void {
    this.votes = new Map();
  }

  /** Records id's vote; only its first vote in an election counts. */
  recordVote(id: NodeId, v: boolean): void {
    if (!this.votes.has(id)) this.votes.set(id, v);
  }

  /** Granted/rejected count the tracked voters (informational); result is decided by the config. */
  tallyVotes(): { granted: number; rejected: number; result: VoteResult } {
    let granted = 0;
    let rejected = 0;
    for (const [id, pr] of this.progress) {
      if (pr.isLearner) continue;
      const v = this.votes.get(id);
      if (v === undefined) continue;
      if (v) granted++;
      else rejected++;
    }
    return { granted, rejected, result: this.config.voters.voteResult(this.votes) };
  }
}
