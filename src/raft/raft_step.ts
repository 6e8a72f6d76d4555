// The per-role message handlers swapped in by Raft.become*(). Term checks have already been done by
// Raft.step(), so every message here is of the current term (or local).
import { ErrProposalDropped } from './errors.ts';
import { EntryType, MessageType, NONE, message, type Entry, type Message } from './raftpb.ts';
import { decodeConfChange, decodeConfChangeV2 } from './raftpb_codec.ts';
import type { RaftCore } from './raft_core.ts';
import { ReadOnlyOption, readCtx } from './read_only.ts';
import { StateType } from './status.ts';
import { ProgressStateType } from './tracker/progress.ts';
import { VoteResult } from './quorum/quorum.ts';

export function stepLeader(r: RaftCore, m: Message): void {
  // Messages that need no progress entry for the sender.
  switch (m.type) {
    case MessageType.MsgBeat:
      r.bcastHeartbeat();
      return;
    case MessageType.MsgCheckQuorum:
      if (!r.trk.quorumActive()) {
        r.logger.warn(`${r.id.toString(16)} stepped down to follower since quorum is not active`);
        r.becomeFollower(r.term, NONE);
      }
      // Everyone but us must prove activity again before the next check.
      r.trk.visit((id, pr) => {
        if (id !== r.id) pr.recentActive = false;
      });
      return;
    case MessageType.MsgProp:
      leaderPropose(r, m);
      return;
    case MessageType.MsgReadIndex:
      if (r.trk.isSingleton()) {
        // Only we vote: our commit index is the read index.
        const resp = r.responseToReadIndexReq(m, r.raftLog.committed);
        if (resp !== undefined) r.send(resp);
        return;
      }
      // Until an entry of our term commits we do not know the true commit index.
      if (!r.committedEntryInCurrentTerm()) {
        r.pendingReadIndexMessages.push(m);
        return;
      }
      sendMsgReadIndexResponse(r, m);
      return;
    case MessageType.MsgForgetLeader:
      return;
  }

  const pr = r.trk.progress.get(m.from);
  if (pr === undefined) return;
  switch (m.type) {
    case MessageType.MsgAppResp:
      pr.recentActive = true;
      if (m.reject) {
        handleAppendRejection(r, m);
        return;
      }
      // A probe whose match is confirmed may move to replicate even if match does not grow.
      if (pr.maybeUpdate(m.index) || (pr.match === m.index && pr.state === ProgressStateType.StateProbe)) {
        if (pr.state === ProgressStateType.StateProbe) {
          pr.becomeReplicate();
        } else if (pr.state === ProgressStateType.StateSnapshot && pr.match + 1 >= r.raftLog.firstIndex()) {
          // Caught up from the log now (whatever snapshot it applied): resume through probe.
          pr.becomeProbe();
          pr.becomeReplicate();
        } else if (pr.state === ProgressStateType.StateReplicate) {
          pr.inflights.freeLE(m.index);
        }
        if (r.maybeCommit()) {
          releasePendingReadIndexMessages(r);
          r.bcastAppend();
        } else if (r.id !== m.from && pr.canBumpCommit(r.raftLog.committed)) {
          r.sendAppend(m.from);
        }
        // The window may have opened: send what it allows, without empty messages.
        if (r.id !== m.from) {
          while (r.maybeSendAppend(m.from, false)) {
            /* keep sending */
          }
        }
        if (m.from === r.leadTransferee && pr.match === r.raftLog.lastIndex()) r.sendTimeoutNow(m.from);
      }
      return;
    case MessageType.MsgHeartbeatResp:
      pr.recentActive = true;
      pr.msgAppFlowPaused = false;
      // Also recovers a full window whose MsgApps were all lost, and a caught-up follower in probe.
      if (pr.match < r.raftLog.lastIndex() || pr.state === ProgressStateType.StateProbe) r.sendAppend(m.from);
      if (r.readOnly.option !== ReadOnlyOption.ReadOnlySafe || m.context.length === 0) return;
      if (r.trk.config.voters.voteResult(r.readOnly.recvAck(m.from, m.context)) !== VoteResult.VoteWon)
        return;
      for (const rs of r.readOnly.advance(m)) {
        const resp = r.responseToReadIndexReq(rs.req, rs.index);
        if (resp !== undefined) r.send(resp);
      }
      return;
    case MessageType.MsgSnapStatus:
      if (pr.state !== ProgressStateType.StateSnapshot) return;
      // On failure forget the snapshot first, or probing would resume from its index.
      if (m.reject) pr.pendingSnapshot = 0;
      pr.becomeProbe();
      // Wait for the follower's MsgAppResp (or a heartbeat round after a failure) before the next MsgApp.
      pr.msgAppFlowPaused = true;
      return;
    case MessageType.MsgUnreachable:
      // Optimistic appends were probably lost.
      if (pr.state === ProgressStateType.StateReplicate) pr.becomeProbe();
      return;
    case MessageType.MsgTransferLeader: {
      if (pr.isLearner) return;
      const transferee = m.from;
      if (r.leadTransferee !== NONE) {
        if (r.leadTransferee === transferee) return;
        r.abortLeaderTransfer();
      }
      if (transferee === r.id) return;
      // The transfer must finish within an election timeout.
      r.electionElapsed = 0;
      r.leadTransferee = transferee;
      if (pr.match === r.raftLog.lastIndex()) r.sendTimeoutNow(transferee);
      else r.sendAppend(transferee);
      return;
    }
  }
}

function leaderPropose(r: RaftCore, m: Message): void {
  if (m.entries.length === 0) throw new Error(`raft: ${r.id.toString(16)} stepped empty MsgProp`);
  // Removed from the configuration while leading: take nothing new.
  if (!r.trk.progress.has(r.id)) throw new ErrProposalDropped();
  if (r.leadTransferee !== NONE) throw new ErrProposalDropped();
  const ents: Entry[] = m.entries.map((e, i) => {
    const changes = confChangeCount(e);
    if (changes === undefined) return e;
    const alreadyPending = r.pendingConfIndex > r.raftLog.applied;
    const alreadyJoint = r.trk.config.voters.isJoint();
    const wantsLeaveJoint = changes === 0;
    let failed = '';
    if (alreadyPending) {
      failed = `possible unapplied conf change at index ${r.pendingConfIndex} (applied to ${r.raftLog.applied})`;
    } else if (alreadyJoint && !wantsLeaveJoint) failed = 'must transition out of joint config first';
    else if (!alreadyJoint && wantsLeaveJoint) failed = 'not in joint state; refusing empty conf change';
    if (failed !== '') {
      // Keep the slot (callers count on the index) but make it a no-op.
      r.logger.info(`${r.id.toString(16)} ignoring conf change at config ${r.configString()}: ${failed}`);
      return { ...e, type: EntryType.EntryNormal, data: new Uint8Array(0) };
    }
    r.pendingConfIndex = r.raftLog.lastIndex() + i + 1;
    return e;
  });
  if (!r.appendEntry(ents)) throw new ErrProposalDropped();
  r.bcastAppend();
}

/** The number of changes a conf change entry carries (0 = leave joint), undefined for normal entries. */
function confChangeCount(e: Entry): number | undefined {
  if (e.type === EntryType.EntryConfChange) {
    decodeConfChange(e.data); // throws on a corrupt proposal
    return 1;
  }
  if (e.type === EntryType.EntryConfChangeV2) return decodeConfChangeV2(e.data).changes.length;
  return undefined;
}

function handleAppendRejection(r: RaftCore, m: Message): void {
  const pr = r.trk.progress.get(m.from)!;
  // rejectHint/logTerm is where the follower thinks our logs may match. Skip every index whose term in
  // our log is above the follower's term there: none of those can match.
  let nextProbe = m.rejectHint;
  if (m.logTerm > 0) nextProbe = r.raftLog.findConflictByTerm(m.rejectHint, m.logTerm).index;
  if (pr.maybeDecrTo(m.index, nextProbe)) {
    if (pr.state === ProgressStateType.StateReplicate) pr.becomeProbe();
    r.sendAppend(m.from);
  }
}

/** Pre-candidates and candidates. */
export function stepCandidate(r: RaftCore, m: Message): void {
  // Stale pre-vote responses may arrive once we are a real candidate in the same term.
  const myVoteResp =
    r.state === StateType.StatePreCandidate ? MessageType.MsgPreVoteResp : MessageType.MsgVoteResp;
  switch (m.type) {
    case MessageType.MsgProp:
      throw new ErrProposalDropped();
    case MessageType.MsgApp:
      r.becomeFollower(m.term, m.from);
      handleAppendEntries(r, m);
      return;
    case MessageType.MsgHeartbeat:
      r.becomeFollower(m.term, m.from);
      handleHeartbeat(r, m);
      return;
    case MessageType.MsgSnap:
      r.becomeFollower(m.term, m.from);
      handleSnapshot(r, m);
      return;
    case myVoteResp: {
      const { result } = r.poll(m.from, !m.reject);
      if (result === VoteResult.VoteWon) {
        if (r.state === StateType.StatePreCandidate) r.campaign('CampaignElection');
        else {
          r.becomeLeader();
          r.bcastAppend();
        }
      } else if (result === VoteResult.VoteLost) {
        // A pre-vote response carries our future term; stay at ours.
        r.becomeFollower(r.term, NONE);
      }
      return;
    }
  }
}

export function stepFollower(r: RaftCore, m: Message): void {
  switch (m.type) {
    case MessageType.MsgProp:
      if (r.lead === NONE || r.disableProposalForwarding) throw new ErrProposalDropped();
      r.send({ ...m, to: r.lead });
      return;
    case MessageType.MsgApp:
      r.electionElapsed = 0;
      r.lead = m.from;
      handleAppendEntries(r, m);
      return;
    case MessageType.MsgHeartbeat:
      r.electionElapsed = 0;
      r.lead = m.from;
      handleHeartbeat(r, m);
      return;
    case MessageType.MsgSnap:
      r.electionElapsed = 0;
      r.lead = m.from;
      handleSnapshot(r, m);
      return;
    case MessageType.MsgTransferLeader:
      if (r.lead === NONE) return;
      r.send({ ...m, to: r.lead, term: 0 });
      return;
    case MessageType.MsgForgetLeader:
      // Forgetting the leader would break the lease that lease-based reads rely on.
      if (r.readOnly.option === ReadOnlyOption.ReadOnlyLeaseBased) return;
      r.lead = NONE;
      return;
    case MessageType.MsgTimeoutNow:
      // A transfer: campaign at once, without pre-vote (we know we are not partitioned).
      r.hup('CampaignTransfer');
      return;
    case MessageType.MsgReadIndex:
      if (r.lead === NONE) return;
      r.send({ ...m, to: r.lead });
      return;
    case MessageType.MsgReadIndexResp:
      if (m.entries.length !== 1) {
        r.logger.error(`${r.id.toString(16)} invalid format of MsgReadIndexResp from ${m.from.toString(16)}`);
        return;
      }
      r.readStates.push({ index: m.index, requestCtx: m.entries[0]!.data });
      return;
  }
}

function handleAppendEntries(r: RaftCore, m: Message): void {
  // Everything up to our commit index already matches the leader.
  if (m.index < r.raftLog.committed) {
    r.send(message({ type: MessageType.MsgAppResp, to: m.from, index: r.raftLog.committed }));
    return;
  }
  const last = r.raftLog.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
  if (last !== undefined) {
    r.send(message({ type: MessageType.MsgAppResp, to: m.from, index: last }));
    return;
  }
  // Hint where our logs may match: the last index <= m.index whose term is <= m.logTerm, skipping a
  // divergent tail of higher terms in one round trip.
  const hint = r.raftLog.findConflictByTerm(Math.min(m.index, r.raftLog.lastIndex()), m.logTerm);
  r.send(
    message({
      type: MessageType.MsgAppResp,
      to: m.from,
      index: m.index,
      reject: true,
      rejectHint: hint.index,
      logTerm: hint.term,
    }),
  );
}

function handleHeartbeat(r: RaftCore, m: Message): void {
  r.raftLog.commitTo(m.commit);
  r.send(message({ type: MessageType.MsgHeartbeatResp, to: m.from, context: m.context }));
}

function handleSnapshot(r: RaftCore, m: Message): void {
  const s = m.snapshot;
  if (s !== undefined && r.restore(s)) {
    r.send(message({ type: MessageType.MsgAppResp, to: m.from, index: r.raftLog.lastIndex() }));
  } else {
    r.send(message({ type: MessageType.MsgAppResp, to: m.from, index: r.raftLog.committed }));
  }
}

export function releasePendingReadIndexMessages(r: RaftCore): void {
  if (r.pendingReadIndexMessages.length === 0) return;
  if (!r.committedEntryInCurrentTerm()) {
    r.logger.error('pending MsgReadIndex should be released only after first commit in current term');
    return;
  }
  const msgs = r.pendingReadIndexMessages;
  r.pendingReadIndexMessages = [];
  for (const m of msgs) sendMsgReadIndexResponse(r, m);
}

function sendMsgReadIndexResponse(r: RaftCore, m: Message): void {
  if (r.readOnly.option === ReadOnlyOption.ReadOnlySafe) {
    const ctx = readCtx(m);
    r.readOnly.addRequest(r.raftLog.committed, m);
    // We ack our own heartbeat round.
    r.readOnly.recvAck(r.id, ctx);
    r.bcastHeartbeatWithCtx(ctx);
    return;
  }
  const resp = r.responseToReadIndexReq(m, r.raftLog.committed);
  if (resp !== undefined) r.send(resp);
}
