// A simple majority quorum over a set of voters.
import type { NodeId } from '../raftpb.ts';
import { type AckedIndexer, VoteResult, sortedIds } from './quorum.ts';

export class MajorityConfig {
  readonly ids: Set<NodeId>;

  constructor(ids?: Iterable<NodeId>) {
    this.ids = new Set(ids ?? []);
  }

  get size(): number {
    return this.ids.size;
  }

  has(id: NodeId): boolean {
    return this.ids.has(id);
  }

  /** The voters in ascending order. */
  slice(): NodeId[] {
    return sortedIds(this.ids);
  }

  clone(): MajorityConfig {
    return new MajorityConfig(this.ids);
  }

  /** `(1 2 3)`, ids ascending. */
  toString(): string {
    return `(${this.slice().join(' ')})`;
  }

  /**
   * The highest index acknowledged by a majority. Voters that have not reported count as 0.
   * An empty config returns MAX_SAFE_INTEGER so that it never holds back the other half of a joint config.
   */
  committedIndex(l: AckedIndexer): number {
    const n = this.ids.size;
    if (n === 0) return Number.MAX_SAFE_INTEGER;
    const acked: number[] = [];
    for (const id of this.ids) acked.push(l.ackedIndex(id) ?? 0);
    acked.sort((a, b) => a - b);
    // Sorted ascending, the element with n/2+1 elements at or to its right is acked by a majority.
    return acked[n - (Math.floor(n / 2) + 1)] ?? 0;
  }

  /**
   * Won if a majority granted, Lost if a majority can no longer grant, Pending otherwise. Votes from ids
   * outside the config are ignored. An empty config wins by convention (so a joint config whose outgoing
   * half is empty behaves like its incoming half).
   */
  voteResult(votes: ReadonlyMap<NodeId, boolean>): VoteResult {
    const n = this.ids.size;
    if (n === 0) return VoteResult.VoteWon;
    let granted = 0;
    let missing = 0;
    for (const id of this.ids) {
      const v = votes.get(id);
      if (v === undefined) missing++;
      else if (v) granted++;
    }
    const q = Math.floor(n / 2) + 1;
    if (granted >= q) return VoteResult.VoteWon;
    if (granted + missing >= q) return VoteResult.VotePending;
    return VoteResult.VoteLost;
  }
}
