// The raft state machine (Raft thesis; etcd-io/raft's shape). Pure: messages and ticks in, messages and
// log changes out, collected by RawNode into a Ready. Each role is a pair of swapped functions
// (tickFn, stepFn); step() applies the term rules once, up front, before handing the message to the role.
import {
  ErrCompacted,
  ErrProposalDropped,
  ErrSnapshotTemporarilyUnavailable,
  ErrUnavailable,
} from './errors.ts';
import { RaftLog } from './log.ts';
import {
  EntryType,
  MessageType,
  NONE,
  isEmptyHardState,
  isEmptySnap,
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
import type { Storage } from './storage.ts';
import { ProgressTracker, trackerConfigString, type TrackerConfig } from './tracker/tracker.ts';
import { Progress, ProgressStateType, type ProgressMap } from './tracker/progress.ts';
import { Inflights } from './tracker/inflights.ts';
import { VoteResult } from './quorum/quorum.ts';
import { Changer } from './confchange/confchange.ts';
import { restore as restoreConfig } from './confchange/restore.ts';
import { enterJoint, leaveJoint } from './confchange/conv.ts';
import { stepCandidate, stepFollower, stepLeader } from './raft_step.ts';
import { NO_LIMIT, bytesEqual, panic, payloadsSize } from './util.ts';

export interface Rand {
  /** Uniform in [0, n). */
  intn(n: number): number;
}

export interface RaftLogger {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

const noopLogger: RaftLogger = { debug() {}, info() {}, warn() {}, error() {} };

export interface Config {
  id: NodeId;
  /** Ticks a follower waits without hearing from a leader before campaigning (randomised in [e, 2e)). */
  electionTick: number;
  /** Ticks between leader heartbeats; must be < electionTick. */
  heartbeatTick: number;
  storage: Storage;
  /** The last applied index when restarting; entries up to it are not handed out again. */
  applied?: number;
  /** Byte limit of one MsgApp's entries (0: one entry per message). Default: no limit. */
  maxSizePerMsg?: number;
  /** Byte limit of committed entries handed out but not yet applied. Default: maxSizePerMsg, else no limit. */
  maxCommittedSizePerReady?: number;
  /** Payload bytes of uncommitted entries a leader accepts before dropping proposals. Default: no limit. */
  maxUncommittedEntriesSize?: number;
  /** MsgApps in flight per follower in StateReplicate. */
  maxInflightMsgs: number;
  /** Bytes in flight per follower (0 or absent: no limit). */
  maxInflightBytes?: number;
  checkQuorum?: boolean;
  preVote?: boolean;
  readOnlyOption?: ReadOnlyOption;
  disableProposalForwarding?: boolean;
  /** A leader removed from (or demoted in) the configuration steps down. */
  stepDownOnRemoval?: boolean;
  rand: Rand;
  logger?: RaftLogger;
}

export type CampaignType = 'CampaignPreElection' | 'CampaignElection' | 'CampaignTransfer';

/** Context of votes caused by a leader transfer; such votes bypass the leader lease. */
export const CAMPAIGN_TRANSFER_CTX = Uint8Array.from('CampaignTransfer', (c) => c.charCodeAt(0));

export type StepFn = (r: Raft, m: Message) => void;

function validate(c: Config): void {
  if (c.id === NONE) throw new Error('cannot use none as id');
  if (c.heartbeatTick <= 0) throw new Error('heartbeat tick must be greater than 0');
  if (c.electionTick <= c.heartbeatTick) throw new Error('election tick must be greater than heartbeat tick');
  if (c.maxInflightMsgs <= 0) throw new Error('max inflight messages must be greater than 0');
  const maxMsg = c.maxSizePerMsg ?? NO_LIMIT;
  if ((c.maxInflightBytes ?? 0) > 0 && c.maxInflightBytes! < maxMsg) {
    throw new Error('max inflight bytes must be >= max message size');
  }
  if (c.readOnlyOption === ReadOnlyOption.ReadOnlyLeaseBased && !c.checkQuorum) {
    throw new Error('CheckQuorum must be enabled when ReadOnlyOption is ReadOnlyLeaseBased');
  }
}

export class Raft {
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
    const { config, progress } = restoreConfig(this.changer(), confState);
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

  private changer(): Changer {
    return new Changer(this.trk, this.raftLog.lastIndex(), this.trk.maxInflight, this.trk.maxInflightBytes);
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
    const pr = this.trk.progress.get(to);
    if (pr === undefined || pr.isPaused()) return false;
    const prevIndex = pr.next - 1;
    const prevTerm = this.raftLog.termOrUndefined(prevIndex);
    if (prevTerm === undefined) return this.maybeSendSnapshot(to, pr);
    let ents: Entry[] = [];
    // A full window in StateReplicate still gets an empty append, so dropped messages cannot stall it.
    if (pr.state !== ProgressStateType.StateReplicate || !pr.inflights.full()) {
      try {
        ents = this.raftLog.entries(pr.next, this.maxMsgSize);
      } catch (e) {
        if (e instanceof ErrCompacted || e instanceof ErrUnavailable) return this.maybeSendSnapshot(to, pr);
        throw e;
      }
    }
    if (ents.length === 0 && !sendIfEmpty) return false;
    this.send(
      message({
        type: MessageType.MsgApp,
        to,
        index: prevIndex,
        logTerm: prevTerm,
        entries: ents,
        commit: this.raftLog.committed,
      }),
    );
    pr.sentEntries(ents.length, payloadsSize(ents));
    pr.setSentCommit(this.raftLog.committed);
    return true;
  }

  private maybeSendSnapshot(to: NodeId, pr: Progress): boolean {
    // A follower that does not answer would only make us build snapshots for nothing.
    if (!pr.recentActive) return false;
    let snap: Snapshot;
    try {
      snap = this.raftLog.snapshot();
    } catch (e) {
      if (e instanceof ErrSnapshotTemporarilyUnavailable) return false;
      throw e;
    }
    if (isEmptySnap(snap)) panic('need non-empty snapshot');
    pr.becomeSnapshot(snap.metadata.index);
    this.send(message({ type: MessageType.MsgSnap, to, snapshot: snap }));
    return true;
  }

  sendHeartbeat(to: NodeId, ctx: Uint8Array): void {
    const pr = this.trk.progress.get(to)!;
    // Never tell a follower to commit past what it is known to hold.
    const commit = Math.min(pr.match, this.raftLog.committed);
    this.send(message({ type: MessageType.MsgHeartbeat, to, commit, context: ctx }));
    pr.setSentCommit(commit);
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
    if (this.state === StateType.StateLeader) return;
    if (!this.promotable()) {
      this.logger.warn(`${this.id.toString(16)} is unpromotable and can not campaign`);
      return;
    }
    if (this.hasUnappliedConfChanges()) {
      this.logger.warn(
        `${this.id.toString(16)} cannot campaign at term ${this.term}: unapplied conf changes`,
      );
      return;
    }
    this.campaign(t);
  }

  private hasUnappliedConfChanges(): boolean {
    if (this.raftLog.applied >= this.raftLog.committed) return false;
    let lo = this.raftLog.applied + 1;
    const hi = this.raftLog.committed + 1;
    // Paged so a long unapplied tail does not load at once.
    while (lo < hi) {
      const ents = this.raftLog.slice(lo, hi, this.raftLog.maxApplyingEntsSize);
      for (const e of ents) {
        if (e.type === EntryType.EntryConfChange || e.type === EntryType.EntryConfChangeV2) return true;
      }
      lo += ents.length;
    }
    return false;
  }

  campaign(t: CampaignType): void {
    let term: number;
    let voteMsg: MessageType;
    if (t === 'CampaignPreElection') {
      this.becomePreCandidate();
      voteMsg = MessageType.MsgPreVote;
      // Pre-votes ask about the next term without moving to it.
      term = this.term + 1;
    } else {
      this.becomeCandidate();
      voteMsg = MessageType.MsgVote;
      term = this.term;
    }
    const respType = voteMsg === MessageType.MsgVote ? MessageType.MsgVoteResp : MessageType.MsgPreVoteResp;
    for (const id of this.trk.voterNodes()) {
      if (id === this.id) {
        // Our own vote counts once it is durable, like any other.
        this.send(message({ type: respType, to: id, term }));
        continue;
      }
      const context = t === 'CampaignTransfer' ? CAMPAIGN_TRANSFER_CTX : new Uint8Array(0);
      this.send(
        message({
          type: voteMsg,
          to: id,
          term,
          index: this.raftLog.lastIndex(),
          logTerm: this.raftLog.lastTerm(),
          context,
        }),
      );
    }
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
      if (
        (this.checkQuorum || this.preVote) &&
        (m.type === MessageType.MsgHeartbeat || m.type === MessageType.MsgApp)
      ) {
        // A stale leader (e.g. after a partition healed): tell it our term so it steps down, since with
        // check-quorum/pre-vote our votes no longer reach it to do so.
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
    const chg = this.changer();
    let res: { config: TrackerConfig; progress: ProgressMap };
    if (leaveJoint(cc)) res = chg.leaveJoint();
    else {
      const j = enterJoint(cc);
      res = j.ok ? chg.enterJoint(j.autoLeave, ...cc.changes) : chg.simple(...cc.changes);
    }
    return this.switchToConfig(res.config, res.progress);
  }

  /** Installs a new configuration and reacts to it (removed leader, changed quorum, new peers). */
  switchToConfig(cfg: TrackerConfig, prs: ProgressMap): ConfState {
    this.trk.config = cfg;
    this.trk.progress = prs;
    this.logger.info(`${this.id.toString(16)} switched to configuration ${this.configString()}`);
    const cs = this.trk.confState();
    const pr = prs.get(this.id);
    this.isLearner = pr !== undefined && pr.isLearner;
    if ((pr === undefined || this.isLearner) && this.state === StateType.StateLeader) {
      // Removed or demoted leader: keep leading (to commit the change) unless told to step down.
      if (this.stepDownOnRemoval) this.becomeFollower(this.term, NONE);
      return cs;
    }
    if (this.state !== StateType.StateLeader || cs.voters.length === 0) return cs;
    if (this.maybeCommit()) {
      // A smaller quorum may commit more right away.
      this.bcastAppend();
    } else {
      // Probe newly added peers now rather than at the next heartbeat.
      this.trk.visit((id) => {
        if (id !== this.id) this.maybeSendAppend(id, false);
      });
    }
    if (this.leadTransferee !== NONE && !this.trk.config.voters.ids().has(this.leadTransferee)) {
      this.abortLeaderTransfer();
    }
    return cs;
  }

  /** Restores log and configuration from a leader's snapshot; false if it was stale or ignored. */
  restore(s: Snapshot): boolean {
    if (s.metadata.index <= this.raftLog.committed) return false;
    if (this.state !== StateType.StateFollower) {
      // Defense in depth: never install a snapshot while leading.
      this.logger.warn(
        `${this.id.toString(16)} attempted to restore snapshot as leader; should never happen`,
      );
      this.becomeFollower(this.term + 1, NONE);
      return false;
    }
    const cs = s.metadata.confState;
    if (![...cs.voters, ...cs.learners, ...cs.votersOutgoing].includes(this.id)) {
      this.logger.warn(
        `${this.id.toString(16)} attempted to restore snapshot but it is not in the ConfState`,
      );
      return false;
    }
    if (this.raftLog.matchTerm(s.metadata.index, s.metadata.term)) {
      // We already hold that entry: just move the commit index.
      this.raftLog.commitTo(s.metadata.index);
      return false;
    }
    this.raftLog.restore(s);
    this.trk = new ProgressTracker(this.trk.maxInflight, this.trk.maxInflightBytes);
    const { config, progress } = restoreConfig(this.changer(), cs);
    assertConfStatesEquivalent(cs, this.switchToConfig(config, progress));
    return true;
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

function assertConfStatesEquivalent(a: ConfState, b: ConfState): void {
  const norm = (cs: ConfState): string =>
    JSON.stringify(
      [cs.voters, cs.learners, cs.votersOutgoing, cs.learnersNext]
        .map((l) => [...l].sort().map(String))
        .concat([[String(cs.autoLeave)]]),
    );
  if (norm(a) !== norm(b)) panic(`ConfStates not equivalent after sorting: ${norm(a)} vs ${norm(b)}`);
}
