// Configuration changes and snapshot restore: installing a new (possibly joint) configuration and
// reacting to it, and replacing the log with a leader's snapshot.
import { Changer } from './confchange/confchange.ts';
import { enterJoint, leaveJoint } from './confchange/conv.ts';
import { restore as restoreConfig } from './confchange/restore.ts';
import { NONE, type ConfChangeV2, type ConfState, type Snapshot } from './raftpb.ts';
import type { RaftCore } from './raft_core.ts';
import { StateType } from './status.ts';
import { ProgressTracker, type TrackerConfig } from './tracker/tracker.ts';
import type { ProgressMap } from './tracker/progress.ts';
import { panic } from './util.ts';

export function changer(r: RaftCore): Changer {
  return new Changer(r.trk, r.raftLog.lastIndex(), r.trk.maxInflight, r.trk.maxInflightBytes);
}

/** Applies a committed conf change (the application calls this when it applies the entry). */
export function applyConfChange(r: RaftCore, cc: ConfChangeV2): ConfState {
  const chg = changer(r);
  let res: { config: TrackerConfig; progress: ProgressMap };
  if (leaveJoint(cc)) res = chg.leaveJoint();
  else {
    const j = enterJoint(cc);
    res = j.ok ? chg.enterJoint(j.autoLeave, ...cc.changes) : chg.simple(...cc.changes);
  }
  return switchToConfig(r, res.config, res.progress);
}

/** Installs a new configuration and reacts to it (removed leader, changed quorum, new peers). */
export function switchToConfig(r: RaftCore, cfg: TrackerConfig, prs: ProgressMap): ConfState {
  r.trk.config = cfg;
  r.trk.progress = prs;
  r.logger.info(`${r.id.toString(16)} switched to configuration ${r.configString()}`);
  const cs = r.trk.confState();
  const pr = prs.get(r.id);
  r.isLearner = pr !== undefined && pr.isLearner;
  if ((pr === undefined || r.isLearner) && r.state === StateType.StateLeader) {
    // Removed or demoted leader: keep leading (to commit the change) unless told to step down.
    if (r.stepDownOnRemoval) r.becomeFollower(r.term, NONE);
    return cs;
  }
  if (r.state !== StateType.StateLeader || cs.voters.length === 0) return cs;
  if (r.maybeCommit()) {
    // A smaller quorum may commit more right away.
    r.bcastAppend();
  } else {
    // Probe newly added peers now rather than at the next heartbeat.
    r.trk.visit((id) => {
      if (id !== r.id) r.maybeSendAppend(id, false);
    });
  }
  if (r.leadTransferee !== NONE && !r.trk.config.voters.ids().has(r.leadTransferee)) {
    r.abortLeaderTransfer();
  }
  return cs;
}

/** Restores log and configuration from a leader's snapshot; false if it was stale or ignored. */
export function restoreSnapshot(r: RaftCore, s: Snapshot): boolean {
  if (s.metadata.index <= r.raftLog.committed) return false;
  if (r.state !== StateType.StateFollower) {
    // Defense in depth: never install a snapshot while leading.
    r.logger.warn(`${r.id.toString(16)} attempted to restore snapshot as leader; should never happen`);
    r.becomeFollower(r.term + 1, NONE);
    return false;
  }
  const cs = s.metadata.confState;
  if (![...cs.voters, ...cs.learners, ...cs.votersOutgoing].includes(r.id)) {
    r.logger.warn(`${r.id.toString(16)} attempted to restore snapshot but it is not in the ConfState`);
    return false;
  }
  if (r.raftLog.matchTerm(s.metadata.index, s.metadata.term)) {
    // We already hold that entry: just move the commit index.
    r.raftLog.commitTo(s.metadata.index);
    return false;
  }
  r.raftLog.restore(s);
  r.trk = new ProgressTracker(r.trk.maxInflight, r.trk.maxInflightBytes);
  const { config, progress } = restoreConfig(changer(r), cs);
  assertConfStatesEquivalent(cs, switchToConfig(r, config, progress));
  return true;
}

export function assertConfStatesEquivalent(a: ConfState, b: ConfState): void {
  const norm = (cs: ConfState): string =>
    JSON.stringify(
      [cs.voters, cs.learners, cs.votersOutgoing, cs.learnersNext]
        .map((l) => [...l].sort().map(String))
        .concat([[String(cs.autoLeave)]]),
    );
  if (norm(a) !== norm(b)) panic(`ConfStates not equivalent after sorting: ${norm(a)} vs ${norm(b)}`);
}
