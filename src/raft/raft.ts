// The raft state machine (Raft thesis; etcd-io/raft's shape). Pure: messages and ticks in, messages and
// log changes out, collected by RawNode into a Ready. Each role is a pair of swapped functions
// (tickFn, stepFn); step() applies the term rules once, up front, before handing the message to the role.
import { ErrProposalDropped } from './errors.ts';
import { RaftLog } from './log.ts';
import {
  EntryType,
  MessageType,
  NONE,
  isEmptyHardState,
  message,
  type ConfChangeV2,
  type ConfState,
  type Entry,
  type HardState,
  type Message,
  type NodeId,
  type Snapshot,
} from './raftpb.ts';
import { ReadOnly, ReadOnlyOption, readCtx, type ReadState } from './read_only.ts';
import { StateType, type SoftState } from './status.ts';
import { ProgressTracker, trackerConfigString, type TrackerConfig } from './tracker/tracker.ts';
import { Progress, type ProgressMap } from './tracker/progress.ts';
import { Inflights } from './tracker/inflights.ts';
import { VoteResult } from './quorum/quorum.ts';
import { restore as restoreConfig } from './confchange/restore.ts';
import { stepCandidate, stepFollower, stepLeader } from './raft_step.ts';
import { maybeSendAppend, sendHeartbeat } from './raft_send.ts';
import { campaign, hup } from './raft_election.ts';
import { CAMPAIGN_TRANSFER_CTX, type CampaignType, type RaftCore } from './raft_core.ts';
export { CAMPAIGN_TRANSFER_CTX, type CampaignType };
import {
  applyConfChange,
  assertConfStatesEquivalent,
  changer,
  restoreSnapshot,
  switchToConfig,
} from './raft_conf.ts';
import { noopLogger, validate, type Config, type Rand, type RaftLogger } from './raft_config.ts';
import { NO_LIMIT, bytesEqual, panic, payloadsSize } from './util.ts';

export type { Config, Rand, RaftLogger } from './raft_config.ts';

export type StepFn = (r: RaftCore, m: Message) => void;

export class Raft implements RaftCore {
  readonly id: NodeId;
  term = 0;
  vote: NodeId = NONE;
  readStates: ReadState[] = [];
  raftLog: RaftLog;
  readonly maxMsgSize: number;
  readonly maxUncommittedSize: number;
  trk: ProgressTracker;
  state: StateType = StateType.StateFollower;
  isLearner = false;
  /** Messages sendable now. */
  msgs: Message[] = [];
  /** Messages (votes, append acks) sendable only once the current unstable state is durable. */
  msgsAfterAppend: Message[] = [];
  lead: NodeId = NONE;
  /** Target of a leader transfer in progress, or NONE. */
  leadTransferee: NodeId = NONE;
  /** Index of the newest conf change the leader may have appended; no new one until applied past it. */
  pendingConfIndex = 0;
  /** Payload bytes of the leader's uncommitted tail (an estimate that never overcounts). */
  uncommittedSize = 0;
  readOnly: ReadOnly;
  electionElapsed = 0;
  heartbeatElapsed = 0;
  readonly checkQuorum: boolean;
  readonly preVote: boolean;
  readonly heartbeatTimeout: number;
  readonly electionTimeout: number;
  randomizedElectionTimeout = 0;
  readonly disableProposalForwarding: boolean;
  readonly stepDownOnRemoval: boolean;
  tickFn: () => void = () => this.tickElection();
  stepFn: StepFn = stepFollower;
  readonly logger: RaftLogger;
  readonly rand: Rand;
  /** Reads that reached a new leader before it committed an entry of its term. */
  pendingReadIndexMessages: Message[] = [];

  constructor(c: Config) {
    validate(c);
    this.id = c.id;
    this.maxMsgSize = c.maxSizePerMsg ?? NO_LIMIT;
    const maxApplying = c.maxCommittedSizePerReady || c.maxSizePerMsg || NO_LIMIT;
    this.raftLog = new RaftLog(c.storage, maxApplying);
    this.maxUncommittedSize = c.maxUncommittedEntriesSize || NO_LIMIT;
    this.trk = new ProgressTracker(c.maxInflightMsgs, c.maxInflightBytes ?? 0);
    this.electionTimeout = c.electionTick;
    this.heartbeatTimeout = c.heartbeatTick;
    this.logger = c.logger ?? noopLogger;
    this.rand = c.rand;
    this.checkQuorum = c.checkQuorum ?? false;
    this.preVote = c.preVote ?? false;
    this.readOnly = new ReadOnly(c.readOnlyOption ?? ReadOnlyOption.ReadOnlySafe);
    this.disableProposalForwarding = c.disableProposalForwarding ?? false;
    this.stepDownOnRemoval = c.stepDownOnRemoval ?? false;

    const { hardState, confState } = c.storage.initialState();
    const { config, progress } = restoreConfig(changer(this), confState);
    assertConfStatesEquivalent(confState, this.switchToConfig(config, progress));
    if (!isEmptyHardState(hardState)) this.loadState(hardState);
    if (c.applied !== undefined && c.applied > 0) this.raftLog.appliedTo(c.applied, 0);
    this.becomeFollower(this.term, NONE);
    this.logger.info(
      `${this.id.toString(16)} newRaft [peers: [${this.trk.voterNodes().join(',')}], term: ${this.term}, ` +
        `commit: ${this.raftLog.committed}, applied: ${this.raftLog.applied}, lastindex: ${this.raftLog.lastIndex()}, ` +
        `lastterm: ${this.raftLog.lastTerm()}]`,
    );
  }

  hasLeader(): boolean {
    return this.lead !== NONE;
  }

  softState(): SoftState {
    return { lead: this.lead, raftState: this.state };
  }

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.raftLog.committed };
  }

  /** Queues m; fills in from and (except for votes, proposals and reads) the current term. */
  send(m: Message): void {
    if (m.from === NONE) m.from = this.id;
    const t = m.type;
    const isVote =
      t === MessageType.MsgVote ||
      t === MessageType.MsgVoteResp ||
      t === MessageType.MsgPreVote ||
      t === MessageType.MsgPreVoteResp;
    if (isVote) {
      // Campaign messages carry the term being campaigned for, never the current one implicitly.
      if (m.term === 0) panic(`term should be set when sending ${MessageType[t]}`);
    } else {
      if (m.term !== 0) panic(`term should not be set when sending ${MessageType[t]} (was ${m.term})`);
      // Proposals and reads are forwarded to the leader as if local, so they carry no term.
      if (t !== MessageType.MsgProp && t !== MessageType.MsgReadIndex) m.term = this.term;
    }
    if (t === MessageType.MsgAppResp || t === MessageType.MsgVoteResp || t === MessageType.MsgPreVoteResp) {
      // Acks and votes promise durable state: they go out only after the Ready's persist.
      this.msgsAfterAppend.push(m);
    } else {
      if (m.to === this.id) panic(`message should not be self-addressed when sending ${MessageType[t]}`);
      this.msgs.push(m);
    }
  }

  sendAppend(to: NodeId): void {
    this.maybeSendAppend(to, true);
  }

  /**
   * Sends `to` the entries after its next index (and our commit), or a snapshot if those entries are
   * compacted. Empty appends only when sendIfEmpty. Returns whether a message was sent.
   */
  maybeSendAppend(to: NodeId, sendIfEmpty: boolean): boolean {
    return maybeSendAppend(this, to, sendIfEmpty);
  }

  sendHeartbeat(to: NodeId, ctx: Uint8Array): void {
    sendHeartbeat(this, to, ctx);
  }

  bcastAppend(): void {
    this.trk.visit((id) => {
      if (id !== this.id) this.sendAppend(id);
    });
  }

  bcastHeartbeat(): void {
    this.bcastHeartbeatWithCtx(this.readOnly.lastPendingRequestCtx() ?? new Uint8Array(0));
  }

  bcastHeartbeatWithCtx(ctx: Uint8Array): void {
    this.trk.visit((id) => {
      if (id !== this.id) this.sendHeartbeat(id, ctx);
    });
  }

  /** The application applied up to index (size bytes of entries); may start leaving a joint config. */
  appliedTo(index: number, size: number): void {
    const newApplied = Math.max(index, this.raftLog.applied);
    this.raftLog.appliedTo(newApplied, size);
    if (
      this.trk.config.autoLeave &&
      newApplied >= this.pendingConfIndex &&
      this.state === StateType.StateLeader
    ) {
      // An empty ConfChangeV2 (empty data) leaves the joint config; being empty it is never refused for
      // size. A leader transfer may refuse it: we retry on the next apply.
      const m = message({
        type: MessageType.MsgProp,
        entries: [{ term: 0, index: 0, type: EntryType.EntryConfChangeV2, data: new Uint8Array(0) }],
      });
      try {
        this.step(m);
        this.logger.info(`initiating automatic transition out of joint configuration ${this.configString()}`);
      } catch (e) {
        if (!(e instanceof ErrProposalDropped)) throw e;
      }
    }
  }

  appliedSnap(snap: Snapshot): void {
    this.raftLog.stableSnapTo(snap.metadata.index);
    this.appliedTo(snap.metadata.index, 0);
  }

  /** Advances the commit index to what a quorum holds, if that entry is of our term (Figure 8). */
  maybeCommit(): boolean {
    return this.raftLog.maybeCommit(this.trk.committed(), this.term);
  }

  reset(term: number): void {
    if (this.term !== term) {
      this.term = term;
      this.vote = NONE;
    }
    this.lead = NONE;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.resetRandomizedElectionTimeout();
    this.abortLeaderTransfer();
    this.trk.resetVotes();
    const last = this.raftLog.lastIndex();
    const fresh = new Map<NodeId, Progress>();
    this.trk.visit((id, pr) => {
      fresh.set(
        id,
        new Progress({
          match: id === this.id ? last : 0,
          next: last + 1,
          inflights: new Inflights(this.trk.maxInflight, this.trk.maxInflightBytes),
          isLearner: pr.isLearner,
        }),
      );
    });
    this.trk.progress = fresh;
    this.pendingConfIndex = 0;
    this.uncommittedSize = 0;
    this.readOnly = new ReadOnly(this.readOnly.option);
  }

  /** Appends entries at our term; false if the uncommitted-size limit refuses them. */
  appendEntry(es: Entry[]): boolean {
    let li = this.raftLog.lastIndex();
    const stamped = es.map((e, i) => ({ ...e, term: this.term, index: li + 1 + i }));
    if (!this.increaseUncommittedSize(stamped)) {
      this.logger.warn(`${this.id.toString(16)} appending new entries would exceed uncommitted size limit`);
      return false;
    }
    li = this.raftLog.append(stamped);
    // The leader acks its own entries once they are durable: this self-addressed response is stepped
    // when the Ready holding them is advanced.
    this.send(message({ type: MessageType.MsgAppResp, to: this.id, index: li }));
    return true;
  }

  tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.pastElectionTimeout()) {
      this.electionElapsed = 0;
      this.stepQuietly(message({ type: MessageType.MsgHup, from: this.id }));
    }
  }

  tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.electionTimeout) {
      this.electionElapsed = 0;
      if (this.checkQuorum) this.stepQuietly(message({ type: MessageType.MsgCheckQuorum, from: this.id }));
      // A transfer that did not finish within an election timeout is abandoned.
      if (this.state === StateType.StateLeader && this.leadTransferee !== NONE) this.abortLeaderTransfer();
    }
    if (this.state !== StateType.StateLeader) return;
    if (this.heartbeatElapsed >= this.heartbeatTimeout) {
      this.heartbeatElapsed = 0;
      this.stepQuietly(message({ type: MessageType.MsgBeat, from: this.id }));
    }
  }

  private stepQuietly(m: Message): void {
    try {
      this.step(m);
    } catch (e) {
      if (!(e instanceof ErrProposalDropped)) throw e;
    }
  }

  becomeFollower(term: number, lead: NodeId): void {
    this.stepFn = stepFollower;
    this.reset(term);
    this.tickFn = () => this.tickElection();
    this.lead = lead;
    this.state = StateType.StateFollower;
    this.logger.info(`${this.id.toString(16)} became follower at term ${this.term}`);
  }

  becomeCandidate(): void {
    if (this.state === StateType.StateLeader) panic('invalid transition [leader -> candidate]');
    this.stepFn = stepCandidate;
    this.reset(this.term + 1);
    this.tickFn = () => this.tickElection();
    this.vote = this.id;
    this.state = StateType.StateCandidate;
    this.logger.info(`${this.id.toString(16)} became candidate at term ${this.term}`);
  }

  /** Pre-candidates change neither term nor vote: a failed pre-vote disturbs nobody. */
  becomePreCandidate(): void {
    if (this.state === StateType.StateLeader) panic('invalid transition [leader -> pre-candidate]');
    this.stepFn = stepCandidate;
    this.trk.resetVotes();
    this.tickFn = () => this.tickElection();
    this.lead = NONE;
    this.state = StateType.StatePreCandidate;
    this.logger.info(`${this.id.toString(16)} became pre-candidate at term ${this.term}`);
  }

  becomeLeader(): void {
    if (this.state === StateType.StateFollower) panic('invalid transition [follower -> leader]');
    this.stepFn = stepLeader;
    this.reset(this.term);
    this.tickFn = () => this.tickHeartbeat();
    this.lead = this.id;
    this.state = StateType.StateLeader;
    const self = this.trk.progress.get(this.id)!;
    self.becomeReplicate();
    self.recentActive = true;
    // Any entry in our log may be an unapplied conf change; refuse new ones until all are applied.
    this.pendingConfIndex = this.raftLog.lastIndex();
    // The empty entry commits our term (and with it everything before), which reads wait for.
    if (!this.appendEntry([{ term: 0, index: 0, type: EntryType.EntryNormal, data: new Uint8Array(0) }])) {
      panic('empty entry was dropped');
    }
    this.logger.info(`${this.id.toString(16)} became leader at term ${this.term}`);
  }

  hup(t: CampaignType): void {
    hup(this, t);
  }

  campaign(t: CampaignType): void {
    campaign(this, t);
  }

  poll(id: NodeId, v: boolean): { granted: number; rejected: number; result: VoteResult } {
    this.trk.recordVote(id, v);
    return this.trk.tallyVotes();
  }

  /** Feeds one message to the state machine. Throws ErrProposalDropped for a refused proposal. */
  step(m: Message): void {
    if (m.term === 0) {
      // Local message.
    } else if (m.term > this.term) {
      if (m.type === MessageType.MsgVote || m.type === MessageType.MsgPreVote) {
        const force = bytesEqual(m.context, CAMPAIGN_TRANSFER_CTX);
        const inLease = this.checkQuorum && this.lead !== NONE && this.electionElapsed < this.electionTimeout;
        // Leader lease: while we heard from a leader within the election timeout, ignore disruptors.
        if (!force && inLease) return;
      }
      if (m.type === MessageType.MsgPreVote) {
        // A pre-vote never changes our term.
      } else if (m.type === MessageType.MsgPreVoteResp && !m.reject) {
        // Our own future term echoed back; the term moves only if we win.
      } else if (
        m.type === MessageType.MsgApp ||
        m.type === MessageType.MsgHeartbeat ||
        m.type === MessageType.MsgSnap
      ) {
        this.becomeFollower(m.term, m.from);
      } else {
        this.becomeFollower(m.term, NONE);
      }
    } else if (m.term < this.term) {
      if (m.type === MessageType.MsgHeartbeat || m.type === MessageType.MsgApp) {
        // A stale leader (e.g. after a partition healed): tell it our term so it steps down (the Raft
        // paper's reply to a stale AppendEntries). etcd-io/raft does this only with check-quorum or
        // pre-vote and otherwise counts on our vote requests to raise the leader's term, but those
        // never reach a leader that our stale configuration does not name: the simulator (seed 88237)
        // found a node whose old voters were all removed campaigning to them forever.
        this.send(message({ type: MessageType.MsgAppResp, to: m.from }));
      } else if (m.type === MessageType.MsgPreVote) {
        // Reject explicitly so a pre-candidate with a stale term is not stuck waiting.
        this.send(message({ type: MessageType.MsgPreVoteResp, to: m.from, term: this.term, reject: true }));
      }
      return;
    }

    switch (m.type) {
      case MessageType.MsgHup:
        this.hup(this.preVote ? 'CampaignPreElection' : 'CampaignElection');
        return;
      case MessageType.MsgVote:
      case MessageType.MsgPreVote: {
        const canVote =
          this.vote === m.from ||
          (this.vote === NONE && this.lead === NONE) ||
          (m.type === MessageType.MsgPreVote && m.term > this.term);
        const respType =
          m.type === MessageType.MsgVote ? MessageType.MsgVoteResp : MessageType.MsgPreVoteResp;
        // Learners vote too: one may have been promoted without knowing it yet.
        if (canVote && this.raftLog.isUpToDate(m.index, m.logTerm)) {
          // Reply in the request's term: a pre-vote's is ahead of ours, and the candidate drops older ones.
          this.send(message({ type: respType, to: m.from, term: m.term }));
          if (m.type === MessageType.MsgVote) {
            this.electionElapsed = 0;
            this.vote = m.from;
          }
        } else {
          this.send(message({ type: respType, to: m.from, term: this.term, reject: true }));
        }
        return;
      }
      default:
        this.stepFn(this, m);
    }
  }

  /** Applies a committed conf change (the application calls this when it applies the entry). */
  applyConfChange(cc: ConfChangeV2): ConfState {
    return applyConfChange(this, cc);
  }

  /** Installs a new configuration and reacts to it (removed leader, changed quorum, new peers). */
  switchToConfig(cfg: TrackerConfig, prs: ProgressMap): ConfState {
    return switchToConfig(this, cfg, prs);
  }

  /** Restores log and configuration from a leader's snapshot; false if it was stale or ignored. */
  restore(s: Snapshot): boolean {
    return restoreSnapshot(this, s);
  }

  /** Whether this node may campaign: a voter, not waiting to install a snapshot. */
  promotable(): boolean {
    const pr = this.trk.progress.get(this.id);
    return pr !== undefined && !pr.isLearner && !this.raftLog.hasNextOrInProgressSnapshot();
  }

  loadState(hs: HardState): void {
    if (hs.commit < this.raftLog.committed || hs.commit > this.raftLog.lastIndex()) {
      panic(
        `state.commit ${hs.commit} is out of range [${this.raftLog.committed}, ${this.raftLog.lastIndex()}]`,
      );
    }
    this.raftLog.committed = hs.commit;
    this.term = hs.term;
    this.vote = hs.vote;
  }

  pastElectionTimeout(): boolean {
    return this.electionElapsed >= this.randomizedElectionTimeout;
  }

  resetRandomizedElectionTimeout(): void {
    this.randomizedElectionTimeout = this.electionTimeout + this.rand.intn(this.electionTimeout);
  }

  sendTimeoutNow(to: NodeId): void {
    this.send(message({ type: MessageType.MsgTimeoutNow, to }));
  }

  abortLeaderTransfer(): void {
    this.leadTransferee = NONE;
  }

  /** Whether the entry at our commit index is of our term (a new leader's reads wait for this). */
  committedEntryInCurrentTerm(): boolean {
    return this.raftLog.zeroTermOnOutOfBounds(this.raftLog.committed) === this.term;
  }

  /** Answers a read: locally as a ReadState, or to the follower that forwarded it. */
  responseToReadIndexReq(req: Message, readIndex: number): Message | undefined {
    if (req.from === NONE || req.from === this.id) {
      this.readStates.push({ index: readIndex, requestCtx: readCtx(req) });
      return undefined;
    }
    return message({
      type: MessageType.MsgReadIndexResp,
      to: req.from,
      index: readIndex,
      entries: req.entries,
    });
  }

  increaseUncommittedSize(ents: readonly Entry[]): boolean {
    const s = payloadsSize(ents);
    // An empty tail accepts any size, and empty payloads are always accepted (leader's first entry,
    // leaving a joint config).
    if (this.uncommittedSize > 0 && s > 0 && this.uncommittedSize + s > this.maxUncommittedSize) return false;
    this.uncommittedSize += s;
    return true;
  }

  reduceUncommittedSize(s: number): void {
    this.uncommittedSize = Math.max(0, this.uncommittedSize - s);
  }

  configString(): string {
    return trackerConfigString(this.trk.config);
  }
}
