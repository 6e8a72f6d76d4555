// Shared vocabulary of the quorum package: vote outcomes and the lookup of acknowledged indexes.
import type { NodeId } from '../raftpb.ts';

export enum VoteResult {
  /** Neither side has a quorum yet; more votes may decide it. */
  VotePending = 1,
  /** A quorum has rejected; the election cannot be won. */
  VoteLost = 2,
  /** A quorum has granted. */
  VoteWon = 3,
}

/** Answers the highest log index a voter has acknowledged, or undefined if it has not reported. */
export interface AckedIndexer {
  ackedIndex(id: NodeId): number | undefined;
}

/** An AckedIndexer backed by a plain map (tests and simple callers). */
export function mapAckIndexer(m: ReadonlyMap<NodeId, number>): AckedIndexer {
  return { ackedIndex: (id) => m.get(id) };
}

/** Ascending bigint comparator (Array.prototype.sort compares strings by default). */
export function compareIds(a: NodeId, b: NodeId): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The ids of a set, sorted ascending. */
export function sortedIds(ids: Iterable<NodeId>): NodeId[] {
  return [...ids].sort(compareIds);
}
