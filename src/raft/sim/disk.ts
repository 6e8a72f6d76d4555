// Simulated durable storage of one node: the live MemoryStorage raft reads, plus what has reached the
// "disk" (the state as of the last fsync). Writes since the last fsync are kept as an ordered list of
// operations; a crash keeps some prefix of them (a torn write) and loses the rest.
import { MemoryStorage, type Storage } from '../storage.ts';
import {
  emptyHardState,
  emptySnapshot,
  isEmptySnap,
  type ConfState,
  type Entry,
  type HardState,
  type Snapshot,
} from '../raftpb.ts';

type Op = { k: 'snap'; s: Snapshot } | { k: 'ent'; e: Entry } | { k: 'hs'; hs: HardState };

export class SimDisk {
  mem = new MemoryStorage();
  private snap: Snapshot = emptySnapshot();
  private hs: HardState = emptyHardState();
  /** Durable entries, contiguous (they may start before the snapshot index). */
  private ents: Entry[] = [];
  private pending: Op[] = [];
  /** Whether the current Ready's writes must land all-or-nothing (a snapshot is never torn). */
  private atomicTail = 0;

  /** A founding member: a durable bootstrap snapshot and hard state. */
  static bootstrap(s: Snapshot, hs: HardState): SimDisk {
    const d = new SimDisk();
    d.snap = s;
    d.hs = { ...hs };
    d.mem.applySnapshot(s);
    d.mem.setHardState(hs);
    return d;
  }

  pendingOps(): number {
    return this.pending.length;
  }

  applySnapshot(s: Snapshot): void {
    this.mem.applySnapshot(s);
    this.pending.push({ k: 'snap', s });
    this.atomicTail = this.pending.length;
  }

  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    this.mem.append(entries);
    for (const e of entries) this.pending.push({ k: 'ent', e });
  }

  setHardState(hs: HardState): void {
    this.mem.setHardState(hs);
    this.pending.push({ k: 'hs', hs: { ...hs } });
  }

  /** fsync: everything written so far is durable. */
  sync(): void {
    for (const op of this.pending) this.persist(op);
    this.pending = [];
    this.atomicTail = 0;
  }

  /** Crash: the first `keep` unsynced operations made it to disk (a snapshot's Ready is all or nothing). */
  crash(keep: number, forgetVote = false): void {
    if (keep > 0 && this.atomicTail > 0) keep = keep >= this.atomicTail ? this.pending.length : 0;
    for (let i = 0; i < keep && i < this.pending.length; i++) this.persist(this.pending[i]!);
    this.pending = [];
    this.atomicTail = 0;
    // Sabotage for tests of the simulator itself: a disk that loses the durable vote.
    if (forgetVote) this.hs = { ...this.hs, vote: 0n };
  }

  /** Record a snapshot of the applied state and drop the log before compactTo; both durable at once. */
  snapshotAndCompact(index: number, cs: ConfState, data: Uint8Array, compactTo: number): void {
    this.sync();
    const s = this.mem.createSnapshot(index, cs, data);
    this.snap = s;
    if (compactTo > this.mem.firstIndex() - 1) {
      this.mem.compact(compactTo);
      const first = this.ents[0]?.index ?? 0;
      if (compactTo >= first) this.ents = this.ents.slice(compactTo - first + 1);
    }
  }

  durableSnapshot(): Snapshot {
    return this.snap;
  }

  durableHardState(): HardState {
    return this.hs;
  }

  /** A fresh MemoryStorage holding exactly what is on disk (after a crash). */
  reload(): MemoryStorage {
    const m = new MemoryStorage();
    if (!isEmptySnap(this.snap)) m.applySnapshot(this.snap);
    m.setHardState(this.hs);
    m.append(this.ents);
    this.mem = m;
    return m;
  }

  private persist(op: Op): void {
    if (op.k === 'hs') {
      this.hs = op.hs;
    } else if (op.k === 'snap') {
      this.snap = op.s;
      this.ents = [];
    } else {
      const e = op.e;
      if (e.index <= this.snap.metadata.index) return;
      const first = this.ents[0]?.index;
      if (first === undefined) {
        if (e.index !== this.snap.metadata.index + 1) throw new Error(`disk: gap before ${e.index}`);
        this.ents.push(e);
        return;
      }
      const at = e.index - first;
      if (at < 0 || at > this.ents.length)
        throw new Error(`disk: append at ${e.index} outside [${first}, ..]`);
      this.ents.length = at;
      this.ents.push(e);
    }
  }
}

/** Storage for one incarnation of a node: the live MemoryStorage, with the configuration as of the
 *  state machine's applied index (so raft restarts with `applied` and the matching ConfState). */
export class SimStorage implements Storage {
  constructor(
    private readonly m: MemoryStorage,
    private readonly cs: ConfState,
  ) {}

  initialState(): { hardState: HardState; confState: ConfState } {
    return { hardState: this.m.initialState().hardState, confState: this.cs };
  }
  entries(lo: number, hi: number, maxSize: number): Entry[] {
    return this.m.entries(lo, hi, maxSize);
  }
  term(i: number): number {
    return this.m.term(i);
  }
  lastIndex(): number {
    return this.m.lastIndex();
  }
  firstIndex(): number {
    return this.m.firstIndex();
  }
  snapshot(): Snapshot {
    return this.m.snapshot();
  }
}
