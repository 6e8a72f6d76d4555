// RawNode: the driver-facing API. The driver ticks, steps messages and proposes; then for each Ready it
// persists snapshot, entries and hard state (fsync if mustSync), sends messages, applies committed
// entries and calls advance(rd). Nothing else may change the node between ready() and advance().
import { ErrStepLocalMsg, ErrStepPeerNotFound } from './errors.ts';
import { Raft, type Config } from './raft.ts';
import {
  ConfChangeType,
  EntryType,
  MessageType,
  NONE,
  emptyHardState,
  emptySnapshot,
  hardStateEqual,
  isEmptyHardState,
  isEmptySnap,
  isLocalMsg,
  isResponseMsg,
  message,
  type ConfChange,
  type ConfChangeV2,
  type ConfState,
  type Entry,
  type HardState,
  type Message,
  type NodeId,
  type Snapshot,
} from './raftpb.ts';
import { encodeConfChange, encodeConfChangeV2 } from './raftpb_codec.ts';
import { confChangeAsV2 } from './confchange/conv.ts';
import type { ReadState } from './read_only.ts';
import {
  getBasicStatus,
  getStatus,
  softStateEqual,
  type BasicStatus,
  type SoftState,
  type Status,
} from './status.ts';
import { entsSize, payloadsSize } from './util.ts';

export enum SnapshotStatus {
  SnapshotFinish = 1,
  SnapshotFailure = 2,
}

export interface Ready {
  /** Present only when it changed since the last Ready. */
  softState?: SoftState;
  /** emptyHardState() when unchanged. */
  hardState: HardState;
  readStates: ReadState[];
  /** To persist before sending messages. */
  entries: Entry[];
  /** emptySnapshot() when none. */
  snapshot: Snapshot;
  /** To apply (they may not be durable locally yet; they are committed by a quorum). */
  committedEntries: Entry[];
  /** Sendable once entries, snapshot and hard state of this Ready are persisted. */
  messages: Message[];
  /** Whether the persist must be fsynced (term, vote or entries changed). */
  mustSync: boolean;
}

export function mustSync(st: HardState, prev: HardState, entsNum: number): boolean {
  return entsNum !== 0 || st.vote !== prev.vote || st.term !== prev.term;
}

/** What advance() must do for the accepted Ready. */
interface PendingAdvance {
  steps: Message[];
  /** The last unstable entry when the Ready was accepted, and the term then. */
  stable?: { index: number; term: number; atTerm: number };
  snapshot?: Snapshot;
  applied?: { index: number; size: number; payload: number };
}

export class RawNode {
  readonly raft: Raft;
  private prevSoftSt: SoftState;
  private prevHardSt: HardState;
  private pending: PendingAdvance | undefined = undefined;

  constructor(config: Config) {
    this.raft = new Raft(config);
    this.prevSoftSt = this.raft.softState();
    this.prevHardSt = this.raft.hardState();
  }

  /**
   * Sets up a brand-new node with an empty Storage: ConfChangeAddNode entries for the peers at term 1,
   * already committed and applied to the configuration. The first Ready persists them.
   */
  bootstrap(peers: { id: NodeId; context?: Uint8Array }[]): void {
    if (peers.length === 0) throw new Error('must provide at least one peer to Bootstrap');
    const r = this.raft;
    if (r.raftLog.storage.lastIndex() !== 0) throw new Error("can't bootstrap a nonempty Storage");
    // Nothing is persisted yet, so the first Ready must carry the hard state.
    this.prevHardSt = emptyHardState();
    r.becomeFollower(1, NONE);
    const ents: Entry[] = peers.map((p, i) => ({
      term: 1,
      index: i + 1,
      type: EntryType.EntryConfChange,
      data: encodeConfChange({
        type: ConfChangeType.ConfChangeAddNode,
        nodeId: p.id,
        context: p.context ?? new Uint8Array(0),
        id: 0n,
      }),
    }));
    r.raftLog.append(ents);
    r.raftLog.committed = ents.length;
    for (const p of peers) {
      r.applyConfChange(
        confChangeAsV2({
          type: ConfChangeType.ConfChangeAddNode,
          nodeId: p.id,
          context: new Uint8Array(0),
          id: 0n,
        }),
      );
    }
  }

  tick(): void {
    this.raft.tickFn();
  }

  campaign(): void {
    this.raft.step(message({ type: MessageType.MsgHup }));
  }

  /** Throws ErrProposalDropped when there is no leader, a transfer is under way, or the size limit is hit. */
  propose(data: Uint8Array): void {
    this.raft.step(
      message({
        type: MessageType.MsgProp,
        from: this.raft.id,
        entries: [{ term: 0, index: 0, type: EntryType.EntryNormal, data }],
      }),
    );
  }

  /**
   * Proposes several entries as one MsgProp: a leader appends them as one run, a follower forwards them
   * in one message. Throws ErrProposalDropped as propose() does (then none of them is taken).
   */
  proposeBatch(data: readonly Uint8Array[]): void {
    const entries: Entry[] = new Array<Entry>(data.length);
    for (let i = 0; i < data.length; i++) {
      entries[i] = { term: 0, index: 0, type: EntryType.EntryNormal, data: data[i]! };
    }
    this.raft.step(message({ type: MessageType.MsgProp, from: this.raft.id, entries }));
  }

  proposeConfChange(cc: ConfChange | ConfChangeV2): void {
    const e: Entry =
      'transition' in cc
        ? { term: 0, index: 0, type: EntryType.EntryConfChangeV2, data: encodeConfChangeV2(cc) }
        : { term: 0, index: 0, type: EntryType.EntryConfChange, data: encodeConfChange(cc) };
    this.raft.step(message({ type: MessageType.MsgProp, from: this.raft.id, entries: [e] }));
  }

  /** Call when applying a committed conf change entry (unless the application rejects it). */
  applyConfChange(cc: ConfChange | ConfChangeV2): ConfState {
    return this.raft.applyConfChange(confChangeAsV2(cc));
  }

  /** Steps a message from the network. Local message types and responses from unknown peers are refused. */
  step(m: Message): void {
    if (isLocalMsg(m.type)) throw new ErrStepLocalMsg();
    if (isResponseMsg(m.type) && !this.raft.trk.progress.has(m.from)) throw new ErrStepPeerNotFound();
    this.raft.step(m);
  }

  /** The pending work; must be handled and then passed to advance(). */
  ready(): Ready {
    const rd = this.readyWithoutAccept();
    this.acceptReady(rd);
    return rd;
  }

  private readyWithoutAccept(): Ready {
    const r = this.raft;
    const hs = r.hardState();
    const entries = r.raftLog.nextUnstableEnts();
    const rd: Ready = {
      hardState: hardStateEqual(hs, this.prevHardSt) ? emptyHardState() : hs,
      readStates: r.readStates,
      entries,
      snapshot: r.raftLog.nextUnstableSnapshot() ?? emptySnapshot(),
      committedEntries: r.raftLog.nextCommittedEnts(true),
      // Classic contract: everything is sent after the persist, so deferred messages join the others.
      messages: [...r.msgs, ...r.msgsAfterAppend.filter((m) => m.to !== r.id)],
      mustSync: mustSync(hs, this.prevHardSt, entries.length),
    };
    const ss = r.softState();
    if (!softStateEqual(ss, this.prevSoftSt)) rd.softState = ss;
    return rd;
  }

  private acceptReady(rd: Ready): void {
    const r = this.raft;
    if (this.pending !== undefined)
      throw new Error('raft: two accepted Ready structs without call to Advance');
    if (rd.softState !== undefined) this.prevSoftSt = rd.softState;
    if (!isEmptyHardState(rd.hardState)) this.prevHardSt = rd.hardState;
    if (rd.readStates.length > 0) r.readStates = [];
    const p: PendingAdvance = { steps: r.msgsAfterAppend.filter((m) => m.to === r.id) };
    if (r.raftLog.hasNextOrInProgressUnstableEnts()) {
      const index = r.raftLog.lastIndex();
      p.stable = { index, term: r.raftLog.lastTerm(), atTerm: r.term };
    }
    if (!isEmptySnap(rd.snapshot)) p.snapshot = rd.snapshot;
    const ce = rd.committedEntries;
    if (ce.length > 0) {
      const index = ce[ce.length - 1]!.index;
      const size = entsSize(ce);
      p.applied = { index, size, payload: payloadsSize(ce) };
      r.raftLog.acceptApplying(index, size, true);
    }
    this.pending = p;
    r.msgs = [];
    r.msgsAfterAppend = [];
    r.raftLog.acceptUnstable();
  }

  hasReady(): boolean {
    const r = this.raft;
    if (!softStateEqual(r.softState(), this.prevSoftSt)) return true;
    const hs = r.hardState();
    if (!isEmptyHardState(hs) && !hardStateEqual(hs, this.prevHardSt)) return true;
    if (r.raftLog.hasNextUnstableSnapshot()) return true;
    if (r.msgs.length > 0 || r.msgsAfterAppend.length > 0) return true;
    if (r.raftLog.hasNextUnstableEnts() || r.raftLog.hasNextCommittedEnts(true)) return true;
    return r.readStates.length > 0;
  }

  /** The last Ready was persisted, sent and applied. */
  advance(_rd?: Ready): void {
    const p = this.pending;
    if (p === undefined) return;
    this.pending = undefined;
    const r = this.raft;
    // Our own durable votes and acks first: a leader's ack may commit entries.
    for (const m of p.steps) r.step(m);
    // If the term moved meanwhile, a newer leader may have rewritten those entries; a later Ready retries.
    if (p.stable !== undefined && p.stable.atTerm === r.term)
      r.raftLog.stableTo(p.stable.index, p.stable.term);
    if (p.snapshot !== undefined) r.appliedSnap(p.snapshot);
    if (p.applied !== undefined) {
      r.appliedTo(p.applied.index, p.applied.size);
      r.reduceUncommittedSize(p.applied.payload);
    }
  }

  status(): Status {
    return getStatus(this.raft);
  }

  basicStatus(): BasicStatus {
    return getBasicStatus(this.raft);
  }

  reportUnreachable(id: NodeId): void {
    this.raft.step(message({ type: MessageType.MsgUnreachable, from: id }));
  }

  reportSnapshot(id: NodeId, status: SnapshotStatus): void {
    this.raft.step(
      message({
        type: MessageType.MsgSnapStatus,
        from: id,
        reject: status === SnapshotStatus.SnapshotFailure,
      }),
    );
  }

  transferLeader(transferee: NodeId): void {
    this.raft.step(message({ type: MessageType.MsgTransferLeader, from: transferee }));
  }

  /** Asks for a read index; the answer arrives as a ReadState carrying rctx in a later Ready. */
  readIndex(rctx: Uint8Array): void {
    this.raft.step(
      message({
        type: MessageType.MsgReadIndex,
        entries: [{ term: 0, index: 0, type: EntryType.EntryNormal, data: rctx }],
      }),
    );
  }

  /** A follower forgets its leader (e.g. it knows the leader is gone), so it can vote sooner. */
  forgetLeader(): void {
    this.raft.step(message({ type: MessageType.MsgForgetLeader }));
  }

  // ---- Cheap status queries for the driver (no copies; status() and basicStatus() copy). ----

  /** The current term. */
  term(): number {
    return this.raft.term;
  }

  /** The highest log index known to be committed. */
  committed(): number {
    return this.raft.raftLog.committed;
  }

  /** The highest log index handed out for applying (accepted in a Ready). */
  applied(): number {
    return this.raft.raftLog.applied;
  }

  /** Voters of the current configuration (incoming and outgoing, while joint). */
  voters(): NodeId[] {
    return [...this.raft.trk.config.voters.ids()];
  }

  /** This node is the configuration's only voter (and the configuration is not joint). */
  isSoleVoter(): boolean {
    const v = this.raft.trk.config.voters;
    return v.outgoing.ids.size === 0 && v.incoming.ids.size === 1 && v.incoming.ids.has(this.raft.id);
  }

  /** This node is a learner of the current configuration. */
  isLearner(): boolean {
    return this.raft.trk.config.learners.has(this.raft.id);
  }

  /** The match index of `id` as this node's tracker holds it (current only on the leader); 0 if unknown. */
  progressMatch(id: NodeId): number {
    return this.raft.trk.progress.get(id)?.match ?? 0;
  }

  /** The current configuration as a ConfState. */
  confState(): ConfState {
    return this.raft.trk.confState();
  }

  /** The id of this node (convenience for drivers). */
  get id(): NodeId {
    return this.raft.id;
  }

  /** NONE when no leader is known. */
  get lead(): NodeId {
    return this.raft.lead ?? NONE;
  }
}
