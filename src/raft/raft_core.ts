// The members of the raft state machine that its parts (role handlers, sending, elections, conf
// changes) use. Declared apart from the Raft class so those parts depend on this, not on raft.ts.
import type { RaftLog } from './log.ts';
import type { ConfState, Entry, HardState, Message, NodeId, Snapshot } from './raftpb.ts';
import type { RaftLogger } from './raft_config.ts';
import type { ReadOnly, ReadState } from './read_only.ts';
import type { SoftState, StateType } from './status.ts';
import type { ProgressTracker, TrackerConfig } from './tracker/tracker.ts';
import type { ProgressMap } from './tracker/progress.ts';
import type { VoteResult } from './quorum/quorum.ts';

export type CampaignType = 'CampaignPreElection' | 'CampaignElection' | 'CampaignTransfer';

/** Context of votes caused by a leader transfer; such votes bypass the leader lease. */
export const CAMPAIGN_TRANSFER_CTX = Uint8Array.from('CampaignTransfer', (c) => c.charCodeAt(0));

export interface RaftCore {
  readonly id: NodeId;
  term: number;
  readStates: ReadState[];
  raftLog: RaftLog;
  readonly maxMsgSize: number;
  trk: ProgressTracker;
  state: StateType;
  isLearner: boolean;
  lead: NodeId;
  leadTransferee: NodeId;
  pendingConfIndex: number;
  readOnly: ReadOnly;
  electionElapsed: number;
  readonly disableProposalForwarding: boolean;
  readonly stepDownOnRemoval: boolean;
  readonly logger: RaftLogger;
  pendingReadIndexMessages: Message[];

  softState(): SoftState;
  hardState(): HardState;
  send(m: Message): void;
  sendAppend(to: NodeId): void;
  maybeSendAppend(to: NodeId, sendIfEmpty: boolean): boolean;
  bcastAppend(): void;
  bcastHeartbeat(): void;
  bcastHeartbeatWithCtx(ctx: Uint8Array): void;
  sendTimeoutNow(to: NodeId): void;
  abortLeaderTransfer(): void;
  appendEntry(es: Entry[]): boolean;
  maybeCommit(): boolean;
  becomeFollower(term: number, lead: NodeId): void;
  becomeCandidate(): void;
  becomePreCandidate(): void;
  becomeLeader(): void;
  hup(t: CampaignType): void;
  campaign(t: CampaignType): void;
  poll(id: NodeId, v: boolean): { granted: number; rejected: number; result: VoteResult };
  promotable(): boolean;
  restore(s: Snapshot): boolean;
  switchToConfig(cfg: TrackerConfig, prs: ProgressMap): ConfState;
  committedEntryInCurrentTerm(): boolean;
  responseToReadIndexReq(req: Message, readIndex: number): Message | undefined;
  configString(): string;
}
