// Snapshots of a node's state for monitoring and tests.
import type { HardState, NodeId } from './raftpb.ts';
import type { Progress } from './tracker/progress.ts';
import { cloneTrackerConfig, type TrackerConfig } from './tracker/tracker.ts';

export enum StateType {
  StateFollower = 0,
  StateCandidate = 1,
  StateLeader = 2,
  StatePreCandidate = 3,
}

/** Volatile state worth showing the application: who leads, and our role. */
export interface SoftState {
  lead: NodeId;
  raftState: StateType;
}

export function softStateEqual(a: SoftState, b: SoftState): boolean {
  return a.lead === b.lead && a.raftState === b.raftState;
}

export interface BasicStatus {
  id: NodeId;
  hardState: HardState;
  softState: SoftState;
  applied: number;
  leadTransferee: NodeId;
}

export interface Status {
  basic: BasicStatus;
  config: TrackerConfig;
  /** Followers' progress as the leader sees it; empty on other nodes. */
  progress: Map<NodeId, Progress>;
}

/** What status reads from a node. */
export interface StatusSource {
  readonly id: NodeId;
  state: StateType;
  leadTransferee: NodeId;
  raftLog: { applied: number };
  trk: { config: TrackerConfig; visit(f: (id: NodeId, pr: Progress) => void): void };
  hardState(): HardState;
  softState(): SoftState;
}

export function getBasicStatus(r: StatusSource): BasicStatus {
  return {
    id: r.id,
    hardState: r.hardState(),
    softState: r.softState(),
    applied: r.raftLog.applied,
    leadTransferee: r.leadTransferee,
  };
}

export function getStatus(r: StatusSource): Status {
  const progress = new Map<NodeId, Progress>();
  if (r.state === StateType.StateLeader) r.trk.visit((id, pr) => progress.set(id, pr.clone()));
  return { basic: getBasicStatus(r), config: cloneTrackerConfig(r.trk.config), progress };
}
