// Configuration changes: computes the next tracker config and progress map from the current one and a
// list of single changes, validating them first. The input is never modified; callers install the
// returned config and progress only once the change is accepted.
import { type ConfChangeSingle, ConfChangeType, type NodeId, NONE } from '../raftpb.ts';
import { MajorityConfig } from '../quorum/majority.ts';
import { Inflights } from '../tracker/inflights.ts';
import { Progress, type ProgressMap } from '../tracker/progress.ts';
import { type TrackerConfig, cloneTrackerConfig } from '../tracker/tracker.ts';

/** A rejected or inconsistent configuration change. */
export class ConfChangeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfChangeError';
  }
}

export interface ConfigAndProgress {
  config: TrackerConfig;
  progress: ProgressMap;
}

export interface TrackerLike extends ConfigAndProgress {
  maxInflight?: number;
  maxInflightBytes?: number;
}

export class Changer {
  readonly tracker: ConfigAndProgress;
  readonly lastIndex: number;
  readonly maxInflight: number;
  readonly maxInflightBytes: number;

  /** maxInflight/maxInflightBytes default to the tracker's own when it has them (a ProgressTracker). */
  constructor(tracker: TrackerLike, lastIndex: number, maxInflight?: number, maxInflightBytes?: number) {
    this.tracker = tracker;
    this.lastIndex = lastIndex;
    this.maxInflight = maxInflight ?? tracker.maxInflight ?? 256;
    this.maxInflightBytes = maxInflightBytes ?? tracker.maxInflightBytes ?? 0;
  }

  /**
   * Enters a joint config: the current voters become the outgoing half, and the changes are applied to
   * the incoming half (C_old -> C_{new,old}). autoLeave records whether raft leaves it by itself.
   */
  enterJoint(autoLeave: boolean, ...ccs: ConfChangeSingle[]): ConfigAndProgress {
    const { config, progress } = this.checkAndCopy();
    if (isJoint(config)) throw new ConfChangeError('config is already joint');
    if (config.voters.incoming.size === 0) {
      // Adding to an empty config is allowed (bootstrap), but it cannot become joint.
      throw new ConfChangeError("can't make a zero-voter config joint");
    }
    config.voters.outgoing = config.voters.incoming.clone();
    this.apply(config, progress, ccs);
    config.autoLeave = autoLeave;
    return checked(config, progress);
  }

  /** Leaves a joint config: the incoming half alone decides, staged learners become learners. */
  leaveJoint(): ConfigAndProgress {
    const { config, progress } = this.checkAndCopy();
    if (!isJoint(config)) throw new ConfChangeError("can't leave a non-joint config");
    for (const id of config.learnersNext) {
      config.learners.add(id);
      mustGet(progress, id).isLearner = true;
    }
    config.learnersNext = new Set();
    for (const id of config.voters.outgoing.ids) {
      if (!config.voters.incoming.has(id) && !config.learners.has(id)) progress.delete(id);
    }
    config.voters.outgoing = new MajorityConfig();
    config.autoLeave = false;
    return checked(config, progress);
  }

  /** Changes that together alter the voters by at most one, outside a joint config. */
  simple(...ccs: ConfChangeSingle[]): ConfigAndProgress {
    const { config, progress } = this.checkAndCopy();
    if (isJoint(config)) throw new ConfChangeError("can't apply simple config change in joint config");
    this.apply(config, progress, ccs);
    if (symdiff(this.tracker.config.voters.incoming.ids, config.voters.incoming.ids) > 1) {
      throw new ConfChangeError('more than one voter changed without entering joint config');
    }
    return checked(config, progress);
  }

  // Voter changes always go to the incoming half; the outgoing half keeps the old voters while joint.
  private apply(config: TrackerConfig, progress: ProgressMap, ccs: ConfChangeSingle[]): void {
    for (const cc of ccs) {
      // etcd zeroes the node ID of changes it decided not to apply; skip them.
      if (cc.nodeId === NONE) continue;
      switch (cc.type) {
        case ConfChangeType.ConfChangeAddNode:
          this.makeVoter(config, progress, cc.nodeId);
          break;
        case ConfChangeType.ConfChangeAddLearnerNode:
          this.makeLearner(config, progress, cc.nodeId);
          break;
        case ConfChangeType.ConfChangeRemoveNode:
          remove(config, progress, cc.nodeId);
          break;
        case ConfChangeType.ConfChangeUpdateNode:
          break;
        default:
          throw new ConfChangeError(`unexpected conf type ${String(cc.type)}`);
      }
    }
    if (config.voters.incoming.size === 0) throw new ConfChangeError('removed all voters');
  }

  private makeVoter(config: TrackerConfig, progress: ProgressMap, id: NodeId): void {
    const pr = progress.get(id);
    if (pr === undefined) {
      this.initProgress(config, progress, id, false);
      return;
    }
    pr.isLearner = false;
    config.learners.delete(id);
    config.learnersNext.delete(id);
    config.voters.incoming.ids.add(id);
  }

  // A learner that is still a voter in the outgoing half cannot be a learner yet (the sets must stay
  // disjoint), so it is staged in learnersNext and becomes a learner on leaveJoint.
  private makeLearner(config: TrackerConfig, progress: ProgressMap, id: NodeId): void {
    const pr = progress.get(id);
    if (pr === undefined) {
      this.initProgress(config, progress, id, true);
      return;
    }
    if (pr.isLearner) return;
    remove(config, progress, id);
    progress.set(id, pr);
    if (config.voters.outgoing.has(id)) {
      config.learnersNext.add(id);
    } else {
      pr.isLearner = true;
      config.learners.add(id);
    }
  }

  private initProgress(config: TrackerConfig, progress: ProgressMap, id: NodeId, isLearner: boolean): void {
    if (isLearner) config.learners.add(id);
    else config.voters.incoming.ids.add(id);
    progress.set(
      id,
      new Progress({
        match: 0,
        // Probe from the leader's last index; a fresh follower will most likely need a snapshot anyway.
        next: Math.max(this.lastIndex, 1),
        inflights: new Inflights(this.maxInflight, this.maxInflightBytes),
        isLearner,
        // New nodes count as active so checkQuorum does not depose the leader before they speak.
        recentActive: true,
      }),
    );
  }

  /** A validated deep copy of the input config and progress, unchanged. */
  checkAndCopy(): ConfigAndProgress {
    const config = cloneTrackerConfig(this.tracker.config);
    const progress: ProgressMap = new Map();
    for (const [id, pr] of this.tracker.progress) progress.set(id, pr.clone());
    return checked(config, progress);
  }
}

// Removes id as a voter or learner of the incoming config; keeps its progress while the outgoing
// half still needs it. Unknown ids are a no-op.
function remove(config: TrackerConfig, progress: ProgressMap, id: NodeId): void {
  if (!progress.has(id)) return;
  config.voters.incoming.ids.delete(id);
  config.learners.delete(id);
  config.learnersNext.delete(id);
  if (!config.voters.outgoing.has(id)) progress.delete(id);
}

function isJoint(config: TrackerConfig): boolean {
  return config.voters.outgoing.size > 0;
}

function mustGet(progress: ProgressMap, id: NodeId): Progress {
  const pr = progress.get(id);
  if (pr === undefined) throw new ConfChangeError(`no progress for ${id}`);
  return pr;
}

function symdiff(a: ReadonlySet<NodeId>, b: ReadonlySet<NodeId>): number {
  let n = 0;
  for (const id of a) if (!b.has(id)) n++;
  for (const id of b) if (!a.has(id)) n++;
  return n;
}

/** Throws if config and progress disagree (checked on the way in and on the way out). */
export function checkInvariants(config: TrackerConfig, progress: ProgressMap): void {
  // An empty config is allowed: it is where bootstrap starts.
  for (const ids of [config.voters.ids(), config.learners, config.learnersNext]) {
    for (const id of ids) if (!progress.has(id)) throw new ConfChangeError(`no progress for ${id}`);
  }
  for (const id of config.learnersNext) {
    if (!config.voters.outgoing.has(id)) {
      throw new ConfChangeError(`${id} is in LearnersNext, but not Voters[1]`);
    }
    if (mustGet(progress, id).isLearner) {
      throw new ConfChangeError(`${id} is in LearnersNext, but is already marked as learner`);
    }
  }
  for (const id of config.learners) {
    if (config.voters.outgoing.has(id)) throw new ConfChangeError(`${id} is in Learners and Voters[1]`);
    if (config.voters.incoming.has(id)) throw new ConfChangeError(`${id} is in Learners and Voters[0]`);
    if (!mustGet(progress, id).isLearner) {
      throw new ConfChangeError(`${id} is in Learners, but is not marked as learner`);
    }
  }
  if (!isJoint(config)) {
    if (config.learnersNext.size > 0) throw new ConfChangeError('LearnersNext must be empty when not joint');
    if (config.autoLeave) throw new ConfChangeError('AutoLeave must be false when not joint');
  }
}

function checked(config: TrackerConfig, progress: ProgressMap): ConfigAndProgress {
  checkInvariants(config, progress);
  return { config, progress };
}

/** `AddNode(1) RemoveNode(2)`: the changes for log lines. */
export function describeChanges(ccs: ConfChangeSingle[]): string {
  const name = (t: ConfChangeType) => (ConfChangeType[t] ?? String(t)).replace(/^ConfChange/, '');
  return ccs.map((cc) => `${name(cc.type)}(${cc.nodeId})`).join(' ');
}
