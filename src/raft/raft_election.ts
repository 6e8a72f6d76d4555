// Starting an election: who may campaign, and the (pre-)vote requests a campaign sends.
import { EntryType, MessageType, message } from './raftpb.ts';
import { CAMPAIGN_TRANSFER_CTX, type CampaignType, type RaftCore } from './raft_core.ts';
import { StateType } from './status.ts';

function hasUnappliedConfChanges(r: RaftCore): boolean {
  if (r.raftLog.applied >= r.raftLog.committed) return false;
  let lo = r.raftLog.applied + 1;
  const hi = r.raftLog.committed + 1;
  // Paged so a long unapplied tail does not load at once.
  while (lo < hi) {
    const ents = r.raftLog.slice(lo, hi, r.raftLog.maxApplyingEntsSize);
    for (const e of ents) {
      if (e.type === EntryType.EntryConfChange || e.type === EntryType.EntryConfChangeV2) return true;
    }
    lo += ents.length;
  }
  return false;
}

export function hup(r: RaftCore, t: CampaignType): void {
  if (r.state === StateType.StateLeader) return;
  if (!r.promotable()) {
    r.logger.warn(`${r.id.toString(16)} is unpromotable and can not campaign`);
    return;
  }
  if (hasUnappliedConfChanges(r)) {
    r.logger.warn(`${r.id.toString(16)} cannot campaign at term ${r.term}: unapplied conf changes`);
    return;
  }
  campaign(r, t);
}

export function campaign(r: RaftCore, t: CampaignType): void {
  let term: number;
  let voteMsg: MessageType;
  if (t === 'CampaignPreElection') {
    r.becomePreCandidate();
    voteMsg = MessageType.MsgPreVote;
    // Pre-votes ask about the next term without moving to it.
    term = r.term + 1;
  } else {
    r.becomeCandidate();
    voteMsg = MessageType.MsgVote;
    term = r.term;
  }
  const respType = voteMsg === MessageType.MsgVote ? MessageType.MsgVoteResp : MessageType.MsgPreVoteResp;
  for (const id of r.trk.voterNodes()) {
    if (id === r.id) {
      // Our own vote counts once it is durable, like any other.
      r.send(message({ type: respType, to: id, term }));
      continue;
    }
    const context = t === 'CampaignTransfer' ? CAMPAIGN_TRANSFER_CTX : new Uint8Array(0);
    r.send(
      message({
        type: voteMsg,
        to: id,
        term,
        index: r.raftLog.lastIndex(),
        logTerm: r.raftLog.lastTerm(),
        context,
      }),
    );
  }
}
