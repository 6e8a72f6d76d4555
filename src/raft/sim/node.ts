// One simulated node: a RawNode over a SimDisk plus the durable state machine, and the driver that
// follows the classic Ready contract (persist, fsync, send, apply, advance), reporting every step to
// the checker.
import { RawNode } from '../rawnode.ts';
import type { Config } from '../raft.ts';
import { unmarshalConfChange } from '../raftpb_codec.ts';
import {
  EntryType,
  MessageType,
  NONE,
  isEmptyHardState,
  isEmptySnap,
  type ConfState,
  type Entry,
  type Message,
  type NodeId,
} from '../raftpb.ts';
import { StateType } from '../status.ts';
import { describeEntry, describeHardState } from '../describe.ts';
import { NO_LIMIT } from '../util.ts';
import { contentHash, type Checker } from './checker.ts';
import { SimDisk, SimStorage } from './disk.ts';
import type { Prng } from './prng.ts';
import { StateMachine } from './state_machine.ts';

/** What a run exercised, to show the faults and features were really hit. */
export interface SimStats {
  leaders: number;
  crashes: number;
  tornWrites: number;
  partitions: number;
  delivered: number;
  dropped: number;
  duplicated: number;
  snapshotsSent: number;
  snapshotsRestored: number;
  compactions: number;
  confChanges: number;
  transfers: number;
  applied: number;
}

export function emptyStats(): SimStats {
  return {
    leaders: 0,
    crashes: 0,
    tornWrites: 0,
    partitions: 0,
    delivered: 0,
    dropped: 0,
    duplicated: 0,
    snapshotsSent: 0,
    snapshotsRestored: 0,
    compactions: 0,
    confChanges: 0,
    transfers: 0,
    applied: 0,
  };
}

/** Deliberate driver bugs: a disk that loses the vote on crash; messages sent before the fsync. */
export type Sabotage = 'forget-vote' | 'send-before-sync';

export type RaftKnobs = Omit<Config, 'id' | 'storage' | 'applied' | 'rand' | 'logger'>;

/** What a node needs from the world around it. */
export interface NodeEnv {
  readonly checker: Checker;
  readonly stats: SimStats;
  readonly knobs: RaftKnobs;
  /** A compaction policy: snapshot every `every` applied entries, keeping `keep` entries behind. */
  readonly compactEvery: number;
  readonly compactKeep: number;
  /** Sabotage, to prove the checks bite (never set in normal runs). */
  readonly sabotage: Sabotage | undefined;
  trace: ((line: string) => void) | undefined;
  /** Whether to crash this node between its writes and their fsync: the fraction that lands, or undefined. */
  crashBeforeSync(n: SimNode): number | undefined;
  send(m: Message): void;
  onApplied(n: SimNode, e: Entry): void;
  onConfApplied(n: SimNode, cs: ConfState, index: number): void;
}

export class SimNode {
  rn: RawNode | undefined = undefined;
  incarnation = 0;
  isLeader = false;
  decommissioned = false;
  readonly sm = new StateMachine();

  constructor(
    readonly id: NodeId,
    readonly disk: SimDisk,
    private readonly rand: Prng,
    private readonly env: NodeEnv,
  ) {}

  get up(): boolean {
    return this.rn !== undefined;
  }

  /** Start (or restart) from what is on disk. */
  start(): void {
    const { checker } = this.env;
    const m = this.disk.reload();
    const snap = this.disk.durableSnapshot();
    if (snap.metadata.index > this.sm.appliedIndex) {
      // Crashed after the snapshot was durable but before the state machine took it: restore now.
      this.restoreState(snap.data, snap.metadata.index, snap.metadata.term, snap.metadata.confState);
    }
    this.incarnation++;
    this.isLeader = false;
    this.rn = new RawNode({
      ...this.env.knobs,
      id: this.id,
      storage: new SimStorage(m, this.sm.confState),
      applied: this.sm.appliedIndex,
      rand: this.rand.fork(),
    });
    // The hard state first: the log on disk is judged against the commit index that survived the
    // crash, not against one the node learned but never synced.
    checker.restarted(this.id, this.rn.basicStatus().hardState, this.sm.appliedIndex);
    const first = m.firstIndex();
    checker.resetLog(this.id, first - 1, m.term(first - 1));
    if (m.lastIndex() >= first) checker.appendLog(this.id, m.entries(first, m.lastIndex() + 1, NO_LIMIT));
    this.env.trace?.(
      `${this.id} start #${this.incarnation} ${describeHardState(this.disk.durableHardState())} applied:${this.sm.appliedIndex} log:[${first}, ${m.lastIndex()}]`,
    );
  }

  /** Stop; `keep` of the unsynced writes reach the disk (a torn tail). */
  crash(keep: number): void {
    const pending = this.disk.pendingOps();
    this.disk.crash(keep, this.env.sabotage === 'forget-vote');
    this.rn = undefined;
    this.isLeader = false;
    this.env.stats.crashes++;
    this.env.trace?.(`${this.id} crash (${Math.min(keep, pending)} of ${pending} unsynced writes kept)`);
  }

  /** Handle every pending Ready. */
  handleReady(): void {
    const { checker, trace } = this.env;
    while (this.rn !== undefined && this.rn.hasReady()) {
      const rn = this.rn;
      const rd = rn.ready();
      // 1. Persist.
      const hasSnap = !isEmptySnap(rd.snapshot);
      if (hasSnap) {
        const md = rd.snapshot.metadata;
        this.disk.applySnapshot(rd.snapshot);
        checker.resetLog(this.id, md.index, md.term);
        trace?.(`${this.id} persist snapshot ${md.term}/${md.index}`);
      }
      if (rd.entries.length > 0) {
        this.disk.append(rd.entries);
        checker.appendLog(this.id, rd.entries);
        if (trace) for (const e of rd.entries) trace(`${this.id} append ${describeEntry(e)}`);
      }
      if (!isEmptyHardState(rd.hardState)) {
        this.disk.setHardState(rd.hardState);
        checker.hardState(this.id, rd.hardState);
        trace?.(`${this.id} hardstate ${describeHardState(rd.hardState)}`);
      }
      if (rd.softState !== undefined) {
        this.isLeader = rd.softState.raftState === StateType.StateLeader;
        trace?.(
          `${this.id} becomes ${StateType[rd.softState.raftState]} term ${rn.raft.term} lead ${rd.softState.lead}`,
        );
        if (this.isLeader) {
          checker.becameLeader(this.id, rn.raft.term);
          this.env.stats.leaders++;
        }
      }
      const early = this.env.sabotage === 'send-before-sync';
      if (early) for (const m of rd.messages) this.sendOne(m);
      // 2. fsync (always when something will be applied, so applied <= durable commit).
      if (rd.mustSync || hasSnap || rd.committedEntries.length > 0) {
        const frac = this.env.crashBeforeSync(this);
        if (frac !== undefined) {
          this.crash(Math.floor(frac * (this.disk.pendingOps() + 1)));
          return;
        }
        this.disk.sync();
        checker.synced(this.id);
        const hs = this.disk.durableHardState();
        if (hs.vote !== NONE) checker.voteGranted(this.id, hs.vote, hs.term);
      }
      // 3. Send.
      if (!early) for (const m of rd.messages) this.sendOne(m);
      // 4. Apply.
      if (hasSnap) {
        const md = rd.snapshot.metadata;
        this.restoreState(rd.snapshot.data, md.index, md.term, md.confState);
      }
      for (const e of rd.committedEntries) {
        this.sm.apply(e);
        this.env.stats.applied++;
        checker.applied(this.id, e);
        trace?.(`${this.id} apply ${describeEntry(e)}`);
        if (e.type === EntryType.EntryConfChange || e.type === EntryType.EntryConfChangeV2) {
          const cs = rn.applyConfChange(unmarshalConfChange(e.type, e.data));
          this.sm.confState = cs;
          this.env.onConfApplied(this, cs, e.index);
        }
        this.env.onApplied(this, e);
      }
      rn.advance(rd);
      this.maybeCompact();
    }
  }

  private restoreState(data: Uint8Array, index: number, term: number, cs: ConfState): void {
    const { checker } = this.env;
    this.sm.restore(data, index, term, cs);
    for (const r of this.sm.records) {
      checker.appliedRecord(this.id, r.index, r.term, contentHash(r));
    }
    checker.restoredState(this.id, index);
    this.env.stats.snapshotsRestored++;
    this.env.onConfApplied(this, cs, index);
    this.env.trace?.(`${this.id} restore state machine from snapshot ${term}/${index}`);
  }

  private sendOne(m: Message): void {
    if (m.type === MessageType.MsgVoteResp && !m.reject) this.env.checker.voteGranted(m.from, m.to, m.term);
    this.env.send(m.type === MessageType.MsgSnap ? this.freshSnapshot(m) : m);
  }

  /**
   * Like etcd's merged snapshot message: send the state machine as of now, not the possibly older stored
   * snapshot (which may predate the recipient's own addition, and a node ignores a snapshot whose
   * configuration lacks it).
   */
  private freshSnapshot(m: Message): Message {
    const applied = this.sm.appliedIndex;
    if (applied > this.disk.mem.snapshot().metadata.index) {
      this.disk.snapshotAndCompact(applied, this.sm.confState, this.sm.encode(), 0);
      this.env.trace?.(`${this.id} snapshot at ${applied} for ${m.to}`);
    }
    return { ...m, snapshot: this.disk.mem.snapshot() };
  }

  private maybeCompact(): void {
    const applied = this.sm.appliedIndex;
    const snapIndex = this.disk.mem.snapshot().metadata.index;
    if (applied - snapIndex < this.env.compactEvery) return;
    const compactTo = Math.max(applied - this.env.compactKeep, 0);
    this.disk.snapshotAndCompact(applied, this.sm.confState, this.sm.encode(), compactTo);
    this.env.checker.compactLog(this.id, compactTo);
    this.env.stats.compactions++;
    this.env.trace?.(`${this.id} snapshot at ${applied}, compact to ${compactTo}`);
  }
}
