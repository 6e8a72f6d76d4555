// Sending side of replication: appends (or a snapshot when the follower is behind our compacted log)
// and heartbeats, shaped by each follower's Progress.
import { ErrCompacted, ErrSnapshotTemporarilyUnavailable, ErrUnavailable } from './errors.ts';
import { MessageType, isEmptySnap, message, type Entry, type NodeId, type Snapshot } from './raftpb.ts';
import type { RaftCore } from './raft_core.ts';
import { ProgressStateType, type Progress } from './tracker/progress.ts';
import { panic, payloadsSize } from './util.ts';

/**
 * Sends `to` the entries after its next index (and our commit), or a snapshot if those entries are
 * compacted. Empty appends only when sendIfEmpty. Returns whether a message was sent.
 */
export function maybeSendAppend(r: RaftCore, to: NodeId, sendIfEmpty: boolean): boolean {
  const pr = r.trk.progress.get(to);
  if (pr === undefined || pr.isPaused()) return false;
  const prevIndex = pr.next - 1;
  const prevTerm = r.raftLog.termOrUndefined(prevIndex);
  if (prevTerm === undefined) return maybeSendSnapshot(r, to, pr);
  let ents: Entry[] = [];
  // A full window in StateReplicate still gets an empty append, so dropped messages cannot stall it.
  if (pr.state !== ProgressStateType.StateReplicate || !pr.inflights.full()) {
    try {
      ents = r.raftLog.entries(pr.next, r.maxMsgSize);
    } catch (e) {
      if (e instanceof ErrCompacted || e instanceof ErrUnavailable) return maybeSendSnapshot(r, to, pr);
      throw e;
    }
  }
  if (ents.length === 0 && !sendIfEmpty) return false;
  r.send(
    message({
      type: MessageType.MsgApp,
      to,
      index: prevIndex,
      logTerm: prevTerm,
      entries: ents,
      commit: r.raftLog.committed,
    }),
  );
  pr.sentEntries(ents.length, payloadsSize(ents));
  pr.setSentCommit(r.raftLog.committed);
  return true;
}

function maybeSendSnapshot(r: RaftCore, to: NodeId, pr: Progress): boolean {
  // A follower that does not answer would only make us build snapshots for nothing.
  if (!pr.recentActive) return false;
  let snap: Snapshot;
  try {
    snap = r.raftLog.snapshot();
  } catch (e) {
    if (e instanceof ErrSnapshotTemporarilyUnavailable) return false;
    throw e;
  }
  if (isEmptySnap(snap)) panic('need non-empty snapshot');
  pr.becomeSnapshot(snap.metadata.index);
  r.send(message({ type: MessageType.MsgSnap, to, snapshot: snap }));
  return true;
}

export function sendHeartbeat(r: RaftCore, to: NodeId, ctx: Uint8Array): void {
  const pr = r.trk.progress.get(to)!;
  // Never tell a follower to commit past what it is known to hold.
  const commit = Math.min(pr.match, r.raftLog.committed);
  r.send(message({ type: MessageType.MsgHeartbeat, to, commit, context: ctx }));
  pr.setSentCommit(commit);
}
