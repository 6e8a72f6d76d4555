// The read side of the raft log's durable storage, and an in-memory implementation for tests and the
// simulator. The driver writes (append, applySnapshot, setHardState); raft only reads.
import { ErrCompacted, ErrSnapOutOfDate, ErrUnavailable } from './errors.ts';
import {
  EntryType,
  emptyHardState,
  emptySnapshot,
  type ConfState,
  type Entry,
  type HardState,
  type Snapshot,
} from './raftpb.ts';
import { limitSize, panic } from './util.ts';

export interface Storage {
  /** The saved hard state and the configuration as of the latest snapshot. */
  initialState(): { hardState: HardState; confState: ConfState };
  /** Entries in [lo, hi), cut to maxSize bytes but never empty if any exist. Throws ErrCompacted / ErrUnavailable. */
  entries(lo: number, hi: number, maxSize: number): Entry[];
  /** Term of entry i, for i in [firstIndex()-1, lastIndex()]. Throws ErrCompacted / ErrUnavailable. */
  term(i: number): number;
  lastIndex(): number;
  /** Index of the first entry that may still be read (older ones are in the snapshot). */
  firstIndex(): number;
  /** The latest snapshot; may throw ErrSnapshotTemporarilyUnavailable while one is being made. */
  snapshot(): Snapshot;
}

/** Storage held in memory. ents[0] is a placeholder carrying the snapshot's index and term. */
export class MemoryStorage implements Storage {
  private hardState: HardState = emptyHardState();
  private snap: Snapshot = emptySnapshot();
  private ents: Entry[] = [placeholder(0, 0)];

  initialState(): { hardState: HardState; confState: ConfState } {
    return { hardState: { ...this.hardState }, confState: this.snap.metadata.confState };
  }

  setHardState(hs: HardState): void {
    this.hardState = { ...hs };
  }

  entries(lo: number, hi: number, maxSize: number): Entry[] {
    const offset = this.offset();
    if (lo <= offset) throw new ErrCompacted();
    if (hi > this.lastIndex() + 1) panic(`entries' hi(${hi}) is out of bound lastindex(${this.lastIndex()})`);
    // Only the placeholder: nothing but a snapshot is stored.
    if (this.ents.length === 1) throw new ErrUnavailable();
    return limitSize(this.ents.slice(lo - offset, hi - offset), maxSize);
  }

  term(i: number): number {
    const offset = this.offset();
    if (i < offset) throw new ErrCompacted();
    const e = this.ents[i - offset];
    if (e === undefined) throw new ErrUnavailable();
    return e.term;
  }

  lastIndex(): number {
    return this.offset() + this.ents.length - 1;
  }

  firstIndex(): number {
    return this.offset() + 1;
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  /** Replaces the whole log with a snapshot (a follower receiving MsgSnap). */
  applySnapshot(s: Snapshot): void {
    if (s.metadata.index <= this.snap.metadata.index) throw new ErrSnapOutOfDate();
    this.snap = s;
    this.ents = [placeholder(s.metadata.index, s.metadata.term)];
  }

  /** Records a snapshot of the applied state at index i (<= lastIndex); compaction is separate. */
  createSnapshot(i: number, cs: ConfState | undefined, data: Uint8Array): Snapshot {
    if (i <= this.snap.metadata.index) throw new ErrSnapOutOfDate();
    if (i > this.lastIndex()) panic(`snapshot ${i} is out of bound lastindex(${this.lastIndex()})`);
    const e = this.ents[i - this.offset()]!;
    this.snap = {
      data,
      metadata: { index: i, term: e.term, confState: cs ?? this.snap.metadata.confState },
    };
    return this.snap;
  }

  /** Discards entries before compactIndex; the entry at compactIndex becomes the placeholder. */
  compact(compactIndex: number): void {
    const offset = this.offset();
    if (compactIndex <= offset) throw new ErrCompacted();
    if (compactIndex > this.lastIndex()) {
      panic(`compact ${compactIndex} is out of bound lastindex(${this.lastIndex()})`);
    }
    const i = compactIndex - offset;
    const e = this.ents[i]!;
    this.ents = [placeholder(e.index, e.term), ...this.ents.slice(i + 1)];
  }

  /** Appends entries, replacing any stored suffix they overlap; entries already compacted are skipped. */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const first = this.firstIndex();
    const last = entries[0]!.index + entries.length - 1;
    if (last < first) return;
    let es = entries;
    if (first > es[0]!.index) es = es.slice(first - es[0]!.index);
    const at = es[0]!.index - this.offset();
    if (at > this.ents.length) {
      panic(`missing log entry [last: ${this.lastIndex()}, append at: ${es[0]!.index}]`);
    }
    // A conflicting suffix (a new leader overwrote it) is cut off; the common case appends in place,
    // since a member appends every Ready's entries to a log of up to --snapshot-count entries and
    // copying it each time showed up as CPU and garbage (entries() hands out copies, never this array).
    if (at < this.ents.length) this.ents.length = at;
    for (const e of es) this.ents.push(e);
  }

  private offset(): number {
    return this.ents[0]!.index;
  }
}

function placeholder(index: number, term: number): Entry {
  return { index, term, type: EntryType.EntryNormal, data: new Uint8Array(0) };
}
