// The raft node (etcd's raftNode): the Ready loop around the raft core (RawNode), in DESIGN.md's order
// for every Ready:
//   1. persist: snapshot marker, entries and hard state in ONE durable WAL write (group commit)
//   2. send messages to peers through the transport
//   3. apply the committed entries (one backend batch, storing the applied index)
//   4. advance
// Every input (peer messages, ticks, proposals, read-index requests) is queued and fed to raft at the
// start of a loop turn, so everything that arrived in one event-loop turn lands in one Ready, and
// nothing touches the RawNode between ready() and advance().
import {
  ErrProposalDropped,
  ErrStepLocalMsg,
  ErrStepPeerNotFound,
  MessageType,
  NONE,
  RawNode,
  SnapshotStatus,
  isEmptyHardState,
  isEmptySnap,
  type Config,
  type ConfChange,
  type ConfChangeV2,
  type ConfState,
  type Entry,
  type Status,
  type HardState,
  type Message,
  type ReadState,
  type Ready,
  type MemoryStorage,
  type Snapshot,
  type SoftState,
} from '../raft/index.ts';
import type { SnapshotMarker, Wal } from '../wal/wal.ts';
import { Ticker } from './ticker.ts';

/**
 * The member's side of every Ready (etcd's raftReadyHandler, transport and apply channel): one object,
 * called from the loop in this order.
 */
export interface ReadyHandler {
  /** The role or leader changed (logged, and moves lease expiry and pending reads). */
  onSoftState(ss: SoftState, term: number): void;
  /** Sends messages to peers (step 2). */
  send(msgs: Message[]): void;
  /** Answers to read-index requests. */
  onReadStates(rs: ReadState[]): void;
  /** The WAL recorded a snapshot from the leader: it becomes the state machine before later entries apply. */
  applySnapshot(snap: Snapshot): Promise<void>;
  /** Applies committed entries in order (step 3); conf changes call applyConfChange on this node. */
  applyEntries(entries: Entry[]): void;
  /** After every processed Ready (advance done): the snapshot trigger runs here. */
  afterAdvance(): void;
}

export interface RaftNodeDeps {
  wal: Wal;
  storage: MemoryStorage;
  /** Keeps the data of a snapshot from the leader durable before the WAL records it (etcd's Snapshotter). */
  snapshotter: { save(index: number, data: Uint8Array): void };
  handler: ReadyHandler;
  /** Fail-stop: a durability error or a bug means this member must not go on. */
  fatal(err: unknown): void;
}

/** A queued proposal: `alive` says whether someone still waits for it (timed-out ones are skipped). */
interface Queued {
  data: Uint8Array;
  alive(): boolean;
}

const MAX_PROPOSALS_PER_STEP = 4096;

/** What a leader may send before persisting the Ready's entries. */
const EARLY = new Set([MessageType.MsgApp, MessageType.MsgHeartbeat]);

export class RaftNode {
  readonly rn: RawNode;
  private inbox: Message[] = [];
  /** Ticks missed while the member blocked its loop in its own work: fed before the inbox. */
  private catchUpTicks = 0;
  /** The timer's own ticks: fed after the inbox, so answers already received count first. */
  private ticks = 0;
  private ticker: Ticker | undefined;
  private props: Queued[] = [];
  private confProps: { cc: ConfChange | ConfChangeV2; fail(e: unknown): void }[] = [];
  private reads: Uint8Array[] = [];
  private transfers: bigint[] = [];
  private reports: (() => void)[] = [];
  private walTasks: (() => Promise<void>)[] = [];
  private scheduled = false;
  private running = false;
  private stopped = false;
  private idle: (() => void)[] = [];
  private stopTimer: (() => void) | undefined;
  /** The newest hard state, and whether the WAL has it yet (commit-only changes ride on the next write). */
  private hs: HardState;
  private hsDirty = false;
  /** Until the first check after start: campaign at once if this member is the only voter. */
  private campaignIfAlone = false;

  constructor(
    private readonly deps: RaftNodeDeps,
    config: Config,
  ) {
    this.rn = new RawNode(config);
    this.hs = { ...deps.storage.initialState().hardState };
  }

  /** Brand-new member: the initial voters become committed conf change entries (etcd's bootstrap). */
  bootstrap(peers: { id: bigint; context: Uint8Array }[]): void {
    this.rn.bootstrap(peers);
  }

  /**
   * Starts the tick timer; a lone voter campaigns at once instead of waiting an election timeout.
   * Ticks follow the monotonic clock, at most two per firing: ticks missed while the process stood
   * still are dropped, and only those missed while the loop was blocked applying a snapshot are fed
   * (ticker.ts says why). `now` and `every` (the timer) are injected by tests.
   */
  start(
    heartbeatMs: number,
    now: () => number = () => performance.now(),
    every: (fn: () => void, ms: number) => () => void = repeat,
  ): void {
    const ticker = new Ticker(heartbeatMs, now);
    this.ticker = ticker;
    this.stopTimer = every(() => {
      const f = ticker.fire();
      if (f.now + f.catchUp === 0) return;
      this.catchUpTicks += f.catchUp;
      this.ticks += f.now;
      this.schedule();
    }, heartbeatMs);
    this.campaignIfAlone = true;
    this.schedule();
  }

  /** Feeds `ticks` ticks at the next turn (--initial-election-tick-advance, tick_advance.ts). */
  advanceTicks(ticks: number): void {
    if (this.stopped || ticks <= 0) return;
    this.ticks += ticks;
    this.schedule();
  }

  term(): number {
    return this.rn.term();
  }

  committedIndex(): number {
    return this.rn.committed();
  }

  lead(): bigint {
    return this.rn.lead;
  }

  /** This member is the only voter and leads: its applied state is linearizable as it is. */
  leadsAlone(): boolean {
    return this.rn.isSoleVoter() && this.isLeader();
  }

  /** The loop was stopped (stop() or fail-stop). */
  isStopped(): boolean {
    return this.stopped;
  }

  isLeader(): boolean {
    return this.rn.lead === this.rn.id && this.rn.lead !== NONE;
  }

  /** Voters of the current configuration (incoming and outgoing). */
  voters(): bigint[] {
    return this.rn.voters();
  }

  /** This member is the only voter: its applied state is linearizable without a read-index round. */
  soleVoter(): boolean {
    return this.rn.isSoleVoter();
  }

  isLearner(): boolean {
    return this.rn.isLearner();
  }

  /** Match index of a peer as this leader sees it (0 when unknown or not leader). */
  matchOf(id: bigint): number {
    return this.rn.progressMatch(id);
  }

  /** A copy of the raft state (for /debug/vars; not for hot paths). */
  status(): Status {
    return this.rn.status();
  }

  /** The current configuration. */
  confState(): ConfState {
    return this.rn.confState();
  }

  propose(data: Uint8Array, alive: () => boolean): void {
    if (this.stopped) throw new Error('raft node stopped');
    this.props.push({ data, alive });
    this.schedule();
  }

  proposeConfChange(cc: ConfChange | ConfChangeV2, fail: (e: unknown) => void): void {
    this.confProps.push({ cc, fail });
    this.schedule();
  }

  pending(): number {
    return this.props.length;
  }

  readIndex(ctx: Uint8Array): void {
    this.reads.push(ctx);
    this.schedule();
  }

  transferLeader(to: bigint): void {
    this.transfers.push(to);
    this.schedule();
  }

  step(m: Message): void {
    if (this.stopped) return;
    this.inbox.push(m);
    this.schedule();
  }

  reportUnreachable(id: bigint): void {
    this.reports.push(() => this.rn.reportUnreachable(id));
    this.schedule();
  }

  reportSnapshot(id: bigint, ok: boolean): void {
    const st = ok ? SnapshotStatus.SnapshotFinish : SnapshotStatus.SnapshotFailure;
    this.reports.push(() => this.rn.reportSnapshot(id, st));
    this.schedule();
  }

  /** Runs `fn` inside the loop between Readys (a WAL write that must not overlap a Ready's). */
  walTask(fn: () => Promise<void>): void {
    this.walTasks.push(fn);
    this.schedule();
  }

  /** Called by the applier for a committed conf change entry. */
  applyConfChange(cc: ConfChange | ConfChangeV2): ConfState {
    return this.rn.applyConfChange(cc);
  }

  /** Resolves when nothing is queued or in flight. */
  drain(): Promise<void> {
    if (!this.running && !this.scheduled) return Promise.resolve();
    return new Promise((r) => this.idle.push(r));
  }

  stop(): void {
    this.stopped = true;
    this.stopTimer?.();
  }

  private schedule(): void {
    if (this.scheduled || this.running || this.stopped) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.run();
    });
  }

  private async run(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      for (let turn = 0; turn < 64; turn++) {
        for (const t of this.walTasks.splice(0)) await t();
        const fed = this.feed();
        if (!this.rn.hasReady()) {
          if (!fed) break;
          continue;
        }
        while (this.rn.hasReady() && !this.stopped) await this.handleReady();
        if (this.stopped) break;
      }
    } catch (err) {
      this.stopped = true;
      this.stopTimer?.();
      this.deps.fatal(err);
    } finally {
      this.running = false;
      if (this.hasInput() && !this.stopped) this.schedule();
      else for (const r of this.idle.splice(0)) r();
    }
  }

  private hasInput(): boolean {
    const waitingProps = this.props.length > 0 && this.rn.lead !== NONE;
    return (
      this.inbox.length > 0 ||
      this.catchUpTicks > 0 ||
      this.ticks > 0 ||
      waitingProps ||
      this.confProps.length > 0 ||
      this.reads.length > 0 ||
      this.transfers.length > 0 ||
      this.reports.length > 0 ||
      this.walTasks.length > 0
    );
  }

  /** Feeds the queued inputs to raft; returns whether anything was fed. */
  private feed(): boolean {
    const rn = this.rn;
    let fed = false;
    // Time the member spent blocked in its own work passed before the messages read since then
    // arrived (they waited on the sockets): a live leader's heartbeat among them resets the election
    // timer after the catch-up; with a dead leader the catch-up lets a pre-vote through.
    for (; this.catchUpTicks > 0; this.catchUpTicks--) {
      fed = true;
      rn.tick();
    }
    for (const m of this.inbox.splice(0)) {
      fed = true;
      try {
        rn.step(m);
      } catch (err) {
        // Dropped as etcd drops them: a response from a peer no longer in the configuration, a local
        // type from the wire, a peer's forwarded proposal while there is no leader or a transfer runs
        // (its proposer times out). Anything else raft throws is a bug: the member stops (fail-stop).
        if (!isBenignStepError(err)) throw err;
      }
    }
    for (const r of this.reports.splice(0)) {
      fed = true;
      r();
    }
    for (; this.ticks > 0; this.ticks--) {
      fed = true;
      rn.tick();
    }
    for (const to of this.transfers.splice(0)) {
      fed = true;
      rn.transferLeader(to);
    }
    // Proposals wait (in this queue) for a leader; the proposer times out those that never get one.
    if (this.props.length > 0 && rn.lead !== NONE) {
      const live = this.props.filter((p) => p.alive());
      this.props = [];
      for (let i = 0; i < live.length; i += MAX_PROPOSALS_PER_STEP) {
        const chunk = live.slice(i, i + MAX_PROPOSALS_PER_STEP);
        fed = true;
        try {
          // One MsgProp for the whole batch: a leader appends it as one run, a follower forwards it once.
          rn.proposeBatch(chunk.map((p) => p.data));
        } catch (err) {
          if (!(err instanceof ErrProposalDropped)) throw err;
          // A leader transfer is under way, or the leader is unknown: retry on a later turn.
          this.props.push(...chunk);
        }
      }
    }
    for (const c of this.confProps.splice(0)) {
      fed = true;
      try {
        rn.proposeConfChange(c.cc);
      } catch (err) {
        if (!(err instanceof ErrProposalDropped)) throw err;
        c.fail(err);
      }
    }
    for (const ctx of this.reads.splice(0)) {
      fed = true;
      rn.readIndex(ctx);
    }
    // After a restart the configuration is known only once the committed conf changes are applied
    // again, so the check waits until raft has handed out everything committed.
    if (this.campaignIfAlone && rn.applied() >= rn.committed()) {
      this.campaignIfAlone = false;
      if (this.soleVoter() && rn.lead === NONE) {
        rn.campaign();
        fed = true;
      }
    }
    return fed;
  }

  private async handleReady(): Promise<void> {
    const { deps } = this;
    const h = deps.handler;
    const rd = this.rn.ready();
    if (rd.softState !== undefined) h.onSoftState(rd.softState, this.rn.term());
    const hasSnap = !isEmptySnap(rd.snapshot);
    if (!isEmptyHardState(rd.hardState)) {
      this.hs = rd.hardState;
      this.hsDirty = true;
    }
    // A leader may send its appends and heartbeats before its own write (raft thesis 10.2.1): it counts
    // itself for a commit only after advance(). Followers' fsyncs then overlap the leader's. One
    // event-loop turn lets the transport put them on the wire before the WAL write blocks the loop.
    let late = rd.messages;
    if (rd.entries.length > 0 && !hasSnap && rd.softState === undefined && this.isLeader()) {
      const early = rd.messages.filter((m) => EARLY.has(m.type));
      if (early.length > 0) {
        late = rd.messages.filter((m) => !EARLY.has(m.type));
        h.send(early);
        await new Promise((r) => setImmediate(r));
      }
    }
    // 1. Persist (and apply a snapshot: raft's storage must hold it before later entries append).
    // Saving and applying a snapshot blocks the loop for a second or more: the ticker credits it.
    if (hasSnap) this.ticker?.beginWork();
    try {
      await this.persist(rd, hasSnap);
    } finally {
      if (hasSnap) this.ticker?.endWork();
    }
    if (rd.entries.length > 0) deps.storage.append(rd.entries);
    if (!isEmptyHardState(rd.hardState)) deps.storage.setHardState(rd.hardState);
    // 2. Send.
    if (late.length > 0) h.send(late);
    if (rd.readStates.length > 0) h.onReadStates(rd.readStates);
    // 3. Apply.
    if (rd.committedEntries.length > 0) h.applyEntries(rd.committedEntries);
    // 4. Advance.
    this.rn.advance(rd);
    h.afterAdvance();
  }

  /**
   * A change of commit alone needs no write of its own (etcd skips the fsync too): the applied index in
   * the backend covers it, and the next write carries it.
   */
  private async persist(rd: Ready, hasSnap: boolean): Promise<void> {
    const { deps } = this;
    if (hasSnap) deps.snapshotter.save(rd.snapshot.metadata.index, rd.snapshot.data);
    if (rd.entries.length > 0 || rd.mustSync || hasSnap) {
      const snap = hasSnap
        ? {
            index: rd.snapshot.metadata.index,
            term: rd.snapshot.metadata.term,
            confState: rd.snapshot.metadata.confState,
          }
        : undefined;
      await deps.wal.save(this.hsDirty ? this.hs : undefined, rd.entries, snap);
      this.hsDirty = false;
    }
    if (hasSnap) {
      // The storage keeps the metadata only: the data lives in the backend.
      deps.storage.applySnapshot({ data: new Uint8Array(0), metadata: rd.snapshot.metadata });
      await deps.handler.applySnapshot(rd.snapshot);
    }
  }

  /**
   * Records a snapshot in the WAL together with the newest hard state: the commit index written with a
   * marker is never below it (a restart would find the log starting past its commit index otherwise).
   * Call from inside the loop (walTask).
   */
  async saveSnapshotMarker(marker: SnapshotMarker): Promise<void> {
    await this.deps.wal.save(this.hs, [], marker);
    this.hsDirty = false;
  }

  /** Writes the newest hard state if the WAL lacks it (at shutdown). */
  async flushHardState(): Promise<void> {
    if (this.hsDirty) {
      this.hsDirty = false;
      await this.deps.wal.save(this.hs, []);
    }
  }
}

/** Errors of stepping a peer's message that concern that message only (etcd drops them too). */
function isBenignStepError(err: unknown): boolean {
  return (
    err instanceof ErrStepPeerNotFound || err instanceof ErrStepLocalMsg || err instanceof ErrProposalDropped
  );
}

/** The default timer: `fn` every `ms` milliseconds; returns the function that stops it. */
function repeat(fn: () => void, ms: number): () => void {
  const t = setInterval(fn, ms);
  return () => clearInterval(t);
}
