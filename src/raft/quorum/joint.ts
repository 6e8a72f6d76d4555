// A joint quorum: decisions need a majority in both the incoming and the outgoing config.
// Outside a joint transition the outgoing config is empty, and empty configs are neutral
// (commit MAX_SAFE_INTEGER, vote won), so the joint config then behaves like the incoming one.
import type { NodeId } from '../raftpb.ts';
import { MajorityConfig } from './majority.ts';
import { type AckedIndexer, VoteResult } from './quorum.ts';

export class JointConfig {
  incoming: MajorityConfig;
  outgoing: MajorityConfig;

  constructor(
    incoming: MajorityConfig = new MajorityConfig(),
    outgoing: MajorityConfig = new MajorityConfig(),
  ) {
    this.incoming = incoming;
    this.outgoing = outgoing;
  }

  /** True while a joint transition is in progress. */
  isJoint(): boolean {
    return this.outgoing.size > 0;
  }

  /** Every voter of either half. */
  ids(): Set<NodeId> {
    const s = new Set(this.incoming.ids);
    for (const id of this.outgoing.ids) s.add(id);
    return s;
  }

  clone(): JointConfig {
    return new JointConfig(this.incoming.clone(), this.outgoing.clone());
  }

  /** `(1 2 3)` or `(1 2 3)&&(1 2)` while joint. */
  toString(): string {
    if (this.outgoing.size > 0) return `${this.incoming.toString()}&&${this.outgoing.toString()}`;
    return this.incoming.toString();
  }

  committedIndex(l: AckedIndexer): number {
    return Math.min(this.incoming.committedIndex(l), this.outgoing.committedIndex(l));
  }

  voteResult(votes: ReadonlyMap<NodeId, boolean>): VoteResult {
    const r1 = this.incoming.voteResult(votes);
    const r2 = this.outgoing.voteResult(votes);
    if (r1 === r2) return r1;
    // A loss in either half is final; otherwise at least one half is still open.
    if (r1 === VoteResult.VoteLost || r2 === VoteResult.VoteLost) return VoteResult.VoteLost;
    return VoteResult.VotePending;
  }
}
